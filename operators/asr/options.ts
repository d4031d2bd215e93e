/** What the conformer and zipformer engines of `asr` take (the Moonshine engine's are moonshine.ts). */
import type { ZipformerFiles } from '../../core/models/zipformer2.js';
import type { SessionOptions } from '../../core/onnx/session.js';
import type { QueueOptions } from '../../core/serial-queue.js';

export interface AsrOptions extends SessionOptions {
  engine: 'conformer' | 'zipformer';
  /**
   * conformer: the step graph (`*.onnx` with its `*.json` settings and `tokens.txt` beside it).
   * zipformer: a directory holding encoder*.onnx, decoder*.onnx, joiner*.onnx and tokens.txt, or their paths.
   */
  model: string | ZipformerFiles;
  /** zipformer: 'greedy' (default) or 'modified-beam'. */
  decoding?: 'greedy' | 'modified-beam';
  /** zipformer, modified-beam: hypotheses kept (default 4). */
  beam?: number;
  /** Blank time after speech that makes a hypothesis final (default 600 ms). */
  endpointMs?: number;
  queue?: Omit<QueueOptions, 'name'>;
}

/** The audio every engine takes, and the 10 ms hop of their front ends. */
export const SAMPLE_RATE = 16000;
export const HOP = 160;
