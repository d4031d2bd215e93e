/**
 * Runs a step graph made by streamify (core/onnx/streamify) over a stream of frames in any
 * chunking: frames are gathered into hops of H, each hop is one step with the stream's packed
 * state (a StepState, so streams sharing the model batch their steps), and each step's results
 * come out in order, each tagged with the frame index its window ends at.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CausewayError, ModelError } from '../errors.js';
import type { ModelContract } from '../onnx/contract.js';
import { declaredDims, readModel } from '../onnx/graph.js';
import type { SessionOptions } from '../onnx/session.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { StepState } from '../onnx/step-model.js';
import type { StepSpec } from '../onnx/streamify/streamify.js';

export function readStepSpec(stepPath: string): StepSpec {
  const file = join(dirname(stepPath), 'step.json');
  if (!existsSync(file)) throw new ModelError('model-not-found', `streamified model ${stepPath}: its step.json is not beside it (causeway streamify writes both)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StepSpec;
  } catch (e) {
    throw new ModelError('model-contract', `streamified model ${stepPath}: cannot read ${file} (${(e as Error).message.split('\n')[0]})`);
  }
}

/** The step graph's contract, read from its own declared input and output (batch free). */
export function streamifiedContract(stepPath: string, spec: StepSpec): ModelContract {
  const g = readModel(stepPath).graph!;
  const input = g.input!.find((i) => i.name === spec.input);
  const output = g.output!.find((o) => o.name === spec.output);
  if (!input || !output) throw new ModelError('model-contract', `streamified model ${stepPath}: step.json names '${spec.input}' -> '${spec.output}', the graph does not have them`);
  const batch = declaredDims(input)[0];
  const batchDim = typeof batch === 'string' ? batch : undefined;
  return {
    name: `streamified ${stepPath}`,
    inputs: [
      { name: spec.input, dtype: 'float32', shape: declaredDims(input) },
      { name: spec.state.input, dtype: 'float32', shape: [batch, spec.state.shape[1]] },
    ],
    outputs: [
      { name: spec.output, dtype: 'float32', shape: declaredDims(output) },
      { name: spec.state.output, dtype: 'float32', shape: [batch, spec.state.shape[1]] },
    ],
    state: [{ input: spec.state.input, output: spec.state.output, initialShape: spec.state.shape }],
    ...(batchDim ? { batchDim } : {}),
  };
}

export interface StreamifiedResult {
  /** The result of the window ending just before input frame `end` (frames counted from the stream's start). */
  end: number;
  /** Whether the window lies wholly inside the stream (false during the first `warmupSteps` steps). */
  complete: boolean;
  /** The step's output: `outputsPerStep` results in order along the output's time axis, the last one the window ending at `end`. */
  data: Float32Array;
}

export class StreamifiedStream {
  readonly spec: StepSpec;
  /** Values per input frame (the input's dims after batch and time). */
  readonly frameSize: number;
  private readonly state: StepState;
  private readonly pending: Float32Array;
  private fill = 0;
  private steps = 0;
  private readonly dims: number[];
  private disposed = false;

  /** The input tensor seen as [outer, hop, inner] (time at spec.timeAxis); a frame is its [outer, inner] values. */
  private readonly outer: number;
  private readonly inner: number;
  private readonly feed: Float32Array;

  private constructor(private readonly lease: ModelLease, spec: StepSpec, inputDims: number[]) {
    this.spec = spec;
    this.dims = [1, ...inputDims.slice(1)];
    this.frameSize = this.dims.reduce((a, b) => a * b, 1) / spec.hop;
    this.outer = this.dims.slice(1, spec.timeAxis).reduce((a, b) => a * b, 1);
    this.inner = this.dims.slice(spec.timeAxis + 1).reduce((a, b) => a * b, 1);
    this.pending = new Float32Array(spec.hop * this.frameSize);
    this.feed = new Float32Array(this.pending.length);
    this.state = lease.model.newState();
  }

  static async open(stepPath: string, options: SessionOptions = {}): Promise<StreamifiedStream> {
    const spec = readStepSpec(stepPath);
    const contract = streamifiedContract(stepPath, spec);
    const dims = contract.inputs[0].shape.map((d) => (typeof d === 'number' ? d : 1));
    const lease = await acquireModel(stepPath, contract, options);
    return new StreamifiedStream(lease, spec, dims);
  }

  /**
   * `frames` (n x frameSize values, n >= 0; a frame is the input's values at one time index, in
   * the order of its other axes) in; the results of the hops they complete out.
   */
  async push(frames: Float32Array): Promise<StreamifiedResult[]> {
    if (this.disposed) throw new CausewayError('disposed', 'streamified stream used after dispose');
    if (frames.length % this.frameSize !== 0) throw new CausewayError('invalid-frame', `streamified stream: ${frames.length} values are not whole frames of ${this.frameSize}`);
    const out: StreamifiedResult[] = [];
    let at = 0;
    while (at < frames.length) {
      const n = Math.min(this.pending.length - this.fill, frames.length - at);
      this.pending.set(frames.subarray(at, at + n), this.fill);
      this.fill += n;
      at += n;
      if (this.fill === this.pending.length) {
        out.push(await this.step());
        this.fill = 0;
      }
    }
    return out;
  }

  reset(): void {
    this.state.reset();
    this.fill = 0;
    this.steps = 0;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state.dispose();
    this.lease.release();
  }

  private async step(): Promise<StreamifiedResult> {
    const spec = this.spec;
    const feed = this.feed;
    if (this.outer === 1) feed.set(this.pending);
    else {
      // Frames arrive frame by frame; the input holds time at its own axis.
      const { outer, inner } = this;
      for (let h = 0; h < spec.hop; h++) for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) feed[(o * spec.hop + h) * inner + i] = this.pending[h * this.frameSize + o * inner + i];
    }
    const r = await this.lease.model.step({ [spec.input]: new ort.Tensor('float32', feed.slice(), this.dims) }, this.state);
    const result = r[spec.output];
    const data = (result.data as Float32Array).slice();
    result.dispose();
    const index = this.steps++;
    return { end: (index + 1) * spec.hop, complete: index >= spec.warmupSteps, data };
  }
}
