/**
 * A stateful streaming model: an ONNX graph run one step at a time, with its state as explicit
 * inputs and outputs. The session is stateless and can be shared by many streams; each stream owns
 * a `StepState` (its tensors), so streams never see each other's state.
 */
import * as ort from 'onnxruntime-node';
import { CausewayError, ModelError } from '../errors.js';
import { m } from '../metrics.js';
import { nowMs } from '../frames.js';
import { checkContract, checkFeed, type ModelContract, type TensorSpec } from './contract.js';
import { logger } from '../log.js';
import { batchAxes, batchIsFree, StepBatcher } from './batcher.js';
import { checkDevice } from './device-check.js';
import { cpuSession, loadSession, type Provider, type SessionOptions } from './session.js';

const log = logger('onnx');

type TypedArray = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

function zeros(spec: TensorSpec, shape: readonly number[]): ort.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let data: TypedArray;
  switch (spec.dtype) {
    case 'float32': data = new Float32Array(n); break;
    case 'int64': data = new BigInt64Array(n); break;
    case 'int32': data = new Int32Array(n); break;
    case 'int8': data = new Int8Array(n); break;
    case 'uint8': case 'bool': data = new Uint8Array(n); break;
    case 'float16': data = new Uint16Array(n); break;
  }
  return new ort.Tensor(spec.dtype, data, shape as number[]);
}

/** One stream's model state: the current value of every state input. */
export class StepState {
  private tensors = new Map<string, ort.Tensor>();
  private busy = false;
  private disposed = false;

  constructor(private readonly model: StepModel) {
    this.reset();
  }

  /** Back to the initial (zero) state, e.g. at a stream reset. */
  reset(): void {
    for (const pair of this.model.contract.state) {
      const spec = this.model.contract.inputs.find((s) => s.name === pair.input)!;
      this.tensors.set(pair.input, zeros(spec, pair.initialShape));
    }
  }

  get(input: string): ort.Tensor {
    const t = this.tensors.get(input);
    if (!t) throw new CausewayError('invalid-argument', `${this.model.contract.name}: no state named '${input}'`);
    return t;
  }

  /** @internal used by StepModel.step */
  begin(): Map<string, ort.Tensor> {
    if (this.disposed) throw new CausewayError('disposed', `${this.model.contract.name}: state used after dispose`);
    if (this.busy) {
      throw new CausewayError('invalid-argument', `${this.model.contract.name}: a step is already in flight for this stream (steps must be sequential)`);
    }
    this.busy = true;
    return this.tensors;
  }

  /** @internal */
  end(next: Map<string, ort.Tensor> | undefined): void {
    this.busy = false;
    if (!next || this.disposed) return;
    for (const [k, t] of next) {
      this.tensors.get(k)?.dispose();
      this.tensors.set(k, t);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

export class StepModel {
  private disposed = false;

  /** Present when this model's steps batch across streams: its graph has a free batch dim. */
  readonly batcher: StepBatcher | undefined;

  private constructor(
    readonly session: ort.InferenceSession,
    readonly contract: ModelContract,
    readonly provider: Provider,
    readonly path: string,
    options: SessionOptions,
  ) {
    const axes = batchAxes(contract);
    const maxBatch = options.batch?.maxBatch ?? 32;
    if (axes.size > 0 && maxBatch > 1 && batchIsFree(session, axes)) {
      this.batcher = new StepBatcher((feeds) => this.runOnce(feeds), axes, contract.name, options.batch);
    }
  }

  /** Loads the graph and checks it against `contract`; throws ModelError naming what is wrong. */
  static async load(path: string, contract: ModelContract, options: SessionOptions = {}): Promise<StepModel> {
    let { session, provider } = await loadSession(path, options);
    try {
      checkContract(session, contract, path);
      if (provider !== 'cpu') ({ session, provider } = await checkedOnDevice(session, provider, contract, path, options.threads ?? 1));
    } catch (e) {
      await session.release();
      throw e;
    }
    return new StepModel(session, contract, provider, path, options);
  }

  newState(): StepState {
    return new StepState(this);
  }

  /**
   * Runs one step: `feeds` are the non-state inputs; state inputs come from `state`, and the
   * state outputs replace them afterwards. Returns the non-state outputs.
   */
  async step(feeds: Record<string, ort.Tensor>, state: StepState): Promise<Record<string, ort.Tensor>> {
    if (this.disposed) throw new CausewayError('disposed', `${this.contract.name}: model used after dispose`);
    const current = state.begin();
    let next: Map<string, ort.Tensor> | undefined;
    try {
      const all: Record<string, ort.Tensor> = { ...feeds };
      for (const [k, t] of current) all[k] = t;
      for (const spec of this.contract.inputs) {
        const t = all[spec.name];
        if (!t) throw new ModelError('model-contract', `${this.contract.name}: missing feed '${spec.name}'`);
        checkFeed(spec, t, this.contract.name);
      }
      const out = this.batcher ? await this.batcher.submit(all) : await this.runOnce(all);
      next = new Map();
      const result: Record<string, ort.Tensor> = {};
      const stateOutputs = new Map(this.contract.state.map((p) => [p.output, p.input]));
      for (const [name, value] of Object.entries(out)) {
        const input = stateOutputs.get(name);
        if (input) next.set(input, value as ort.Tensor);
        else result[name] = value as ort.Tensor;
      }
      return result;
    } finally {
      state.end(next);
    }
  }

  /** One ONNX run (one step, or a batch of them). */
  private async runOnce(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const t0 = nowMs();
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(feeds);
    } catch (e) {
      throw new ModelError('model-run-failed', `${this.contract.name} (${this.path}): step failed: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    m.inferenceMs.observe({ model: this.contract.name }, nowMs() - t0);
    return out as Record<string, ort.Tensor>;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}


/**
 * A device session is used only after its outputs matched the CPU's on the contract's probe
 * input. Otherwise (or when the contract has no probe to check with) the model runs on the CPU:
 * one warning line and `causeway_device_check_failures_total`, never a wrong result.
 */
async function checkedOnDevice(
  session: ort.InferenceSession,
  provider: Provider,
  contract: ModelContract,
  path: string,
  threads: number,
): Promise<{ session: ort.InferenceSession; provider: Provider }> {
  const cpu = await cpuSession(path, threads);
  let reason: string;
  try {
    if (contract.probe) {
      const c = await checkDevice(session, cpu, contract);
      if (c.ok) {
        log.info(`${contract.name} (${path}) on ${provider}: matches the CPU (max abs difference ${c.maxDiff.toExponential(2)})`);
        await cpu.release();
        return { session, provider };
      }
      reason = `its output '${c.output}' differs from the CPU's by ${c.maxDiff.toExponential(2)} (values up to ${c.scale.toPrecision(3)})`;
    } else {
      reason = 'its contract has no probe input to check it with';
    }
  } catch (e) {
    reason = `the check run failed (${(e as Error).message.split('\n')[0]})`;
  }
  log.warn(`${contract.name} (${path}): not run on ${provider}: ${reason}; running on the CPU`);
  m.deviceCheckFailures.inc({ model: contract.name, provider });
  m.provider.set({ model: path, provider }, 0);
  m.provider.set({ model: path, provider: 'cpu' }, 1);
  await session.release();
  return { session: cpu, provider: 'cpu' };
}
