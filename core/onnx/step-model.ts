/**
 * A stateful streaming model: an ONNX graph run one step at a time, with its state as explicit
 * inputs and outputs. The session is stateless and can be shared by many streams; each stream owns
 * a `StepState` (its tensors), so streams never see each other's state.
 */
import * as ort from 'onnxruntime-node';
import { CausewayError, ModelError } from '../errors.js';
import { sharedMetrics } from '../metrics.js';
import { nowMs } from '../frames.js';
import { checkContract, checkFeed, type ModelContract, type TensorSpec } from './contract.js';
import { logger } from '../log.js';
import { batchAxes, batchIsFree, StepBatcher } from './batcher.js';
import { checkDevice } from './device-check.js';
import { autoBatchSizes, autoCandidates, describeCosts, deviceFromBatch, measureStep, type DeviceProvider } from './auto-device.js';
import { cpuSession, loadSession, residentSession, type Provider, type SessionOptions } from './session.js';
import { WorkerSession } from './worker-session.js';

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

/**
 * One stream's model state: the current value of every state input. On a model whose state stays
 * on the device (StepModel.resident) the tensors after the first step are device buffers: they are
 * only ever fed back to the model, and disposed here or, at the latest, by the model before its
 * session goes.
 */
export class StepState {
  private tensors = new Map<string, ort.Tensor>();
  /** State inputs some step has written since the last reset. */
  private readonly written = new Set<string>();
  private busy = false;
  private disposed = false;

  constructor(private readonly model: StepModel) {
    this.reset();
    model.adopt(this);
  }

  /** Back to the initial (zero) state, e.g. at a stream reset. */
  reset(): void {
    this.written.clear();
    for (const pair of this.model.contract.state) {
      const spec = this.model.contract.inputs.find((s) => s.name === pair.input)!;
      this.tensors.get(pair.input)?.dispose();
      this.tensors.set(pair.input, zeros(spec, pair.initialShape));
    }
  }

  /** Whether a step has written `input` since the last reset (a state updated 'once' keeps what the first wrote). */
  hasWritten(input: string): boolean {
    return this.written.has(input);
  }

  /** Replaces one state input's value (a re-cache computed elsewhere); the next step feeds it. */
  replace(input: string, value: ort.Tensor): void {
    if (this.disposed) throw new CausewayError('disposed', `${this.model.contract.name}: state used after dispose`);
    if (this.busy) throw new CausewayError('invalid-argument', `${this.model.contract.name}: state replaced while a step is in flight`);
    const old = this.get(input);
    old.dispose();
    this.tensors.set(input, value);
    this.written.add(input);
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
    if (!next) return;
    if (this.disposed) {
      // Disposed while its step ran: the step's device buffers are freed while their session lives (freeing them after it is a crash).
      if (!this.model.released) for (const t of next.values()) t.dispose();
      return;
    }
    for (const [k, t] of next) {
      this.tensors.get(k)?.dispose();
      this.tensors.set(k, t);
      this.written.add(k);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.model.released) for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
    this.model.forget(this);
  }
}

/** device 'auto' put batches of `fromBatch` steps and more on this device (measured faster there). */
export interface DeviceRoute {
  session: ort.InferenceSession;
  provider: DeviceProvider;
  fromBatch: number;
}

export class StepModel {
  private disposed = false;
  /** True once the sessions are released: device buffers can no longer be freed (nor used). */
  released = false;
  /** The live states of a resident model, freed before its session is released. */
  private readonly states = new Set<StepState>();

  /** Present when this model's steps batch across streams: its graph has a free batch dim. */
  readonly batcher: StepBatcher | undefined;

  /**
   * The provider a lone stream's step runs on. With device 'auto', `route` (when set) takes
   * batches of route.fromBatch steps and more.
   */
  private constructor(
    readonly session: ort.InferenceSession,
    readonly contract: ModelContract,
    readonly provider: Provider,
    readonly path: string,
    options: SessionOptions,
    readonly route?: DeviceRoute,
    /** Runs the CPU session's steps on a worker thread (options.thread 'worker'); `session` then only answers metadata. */
    readonly worker?: WorkerSession,
    /**
     * The state stays in the device's memory between steps (IO binding): set for a device
     * session whose steps do not batch. Batched steps stack their streams' states into one
     * tensor on the CPU, which needs the rows there, so a batching model uploads them per step.
     */
    readonly resident = false,
  ) {
    if (willBatch(session, contract, options)) {
      const axes = batchAxes(contract);
      // On a worker, a second batch in flight lets the main thread take one batch's results while the worker computes the next.
      const batch = { parallel: worker ? 2 : 1, ...options.batch };
      this.batcher = new StepBatcher((feeds, rows, handed) => this.runOnce(feeds, rows, handed), axes, contract.name, batch, worker !== undefined);
    }
  }

  /** Loads the graph and checks it against `contract`; throws ModelError naming what is wrong. */
  static async load(path: string, contract: ModelContract, options: SessionOptions = {}): Promise<StepModel> {
    if ((options.device ?? 'auto') === 'auto') return loadAuto(path, contract, options);
    let { session, provider } = await loadSession(path, options);
    try {
      checkContract(session, contract, path);
      if (provider !== 'cpu') ({ session, provider } = await checkedOnDevice(session, provider, contract, path, options.threads ?? 1));
    } catch (e) {
      await session.release();
      throw e;
    }
    if (provider !== 'cpu' && !willBatch(session, contract, options)) {
      return StepModel.fromSessions(await reopenResident(session, provider, contract, path, options), contract, provider, path, options, undefined, true);
    }
    return StepModel.fromSessions(session, contract, provider, path, options);
  }

  /** @internal load's and loadAuto's constructor call: starts the worker a CPU session runs on. */
  static async fromSessions(session: ort.InferenceSession, contract: ModelContract, provider: Provider, path: string, options: SessionOptions, route?: DeviceRoute, resident = false): Promise<StepModel> {
    const thread = options.thread ?? contract.thread ?? 'main';
    if (thread !== 'worker' && thread !== 'main') {
      await session.release();
      if (route) await route.session.release();
      throw new CausewayError('invalid-argument', `${contract.name}: thread must be 'worker' or 'main', got '${String(thread)}'`);
    }
    let worker: WorkerSession | undefined;
    if (provider === 'cpu' && thread === 'worker') {
      try {
        worker = await WorkerSession.start(path, options.threads ?? 1, (why, restarting) => {
          log.warn(`${contract.name} (${path}): ${why}; its steps in flight failed, ${restarting ? 'a new worker takes the next ones' : 'it died too often: its steps fail from now on'}`);
          sharedMetrics.workerDeaths.inc({ model: contract.name, restarted: String(restarting) });
        });
      } catch (e) {
        await session.release();
        if (route) await route.session.release();
        throw e;
      }
    }
    return new StepModel(session, contract, provider, path, options, route, worker, resident);
  }

  newState(): StepState {
    return new StepState(this);
  }

  /** @internal StepState's constructor: a resident model frees its streams' device buffers before its session. */
  adopt(state: StepState): void {
    if (this.resident) this.states.add(state);
  }

  /** @internal */
  forget(state: StepState): void {
    this.states.delete(state);
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
      const out = this.batcher ? await this.batcher.submit(all) : await this.runOnce(all, 1);
      next = new Map();
      const result: Record<string, ort.Tensor> = {};
      const stateOutputs = new Map(this.contract.state.map((p) => [p.output, p]));
      for (const [name, value] of Object.entries(out)) {
        const pair = stateOutputs.get(name);
        if (!pair) result[name] = value as ort.Tensor;
        else if (pair.updated !== 'once' || !state.hasWritten(pair.input)) next.set(pair.input, value as ort.Tensor);
        else (value as ort.Tensor).dispose();
      }
      return result;
    } finally {
      state.end(next);
    }
  }

  /** One ONNX run (one step, or a batch of `rows` of them), on the device when the route takes batches that large. */
  private async runOnce(feeds: Record<string, ort.Tensor>, rows: number, handed?: ReadonlySet<string>): Promise<Record<string, ort.Tensor>> {
    const t0 = nowMs();
    const onDevice = this.route !== undefined && rows >= this.route.fromBatch;
    sharedMetrics.modelRuns.inc({ model: this.contract.name, provider: onDevice ? this.route!.provider : this.provider });
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      if (onDevice) out = await this.route!.session.run(feeds);
      else if (this.worker) out = await this.worker.run(feeds, handed);
      else out = await this.session.run(feeds);
    } catch (e) {
      throw new ModelError('model-run-failed', `${this.contract.name} (${this.path}): step failed: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    sharedMetrics.inferenceMs.observe({ model: this.contract.name }, nowMs() - t0);
    return out as Record<string, ort.Tensor>;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const state of [...this.states]) state.dispose();
    this.released = true;
    await this.session.release();
    if (this.route) await this.route.session.release();
    if (this.worker) await this.worker.release();
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
  sharedMetrics.deviceCheckFailures.inc({ model: contract.name, provider });
  sharedMetrics.provider.set({ model: path, provider }, 0);
  sharedMetrics.provider.set({ model: path, provider: 'cpu' }, 1);
  await session.release();
  return { session: cpu, provider: 'cpu' };
}

/**
 * device 'auto' (auto-device.ts): the CPU session serves every stream; each candidate device that
 * starts and matches the CPU on the probe is timed against the CPU per batch size, and the best
 * one that wins anywhere takes the batches from where it wins. A candidate that fails anywhere
 * (start, check, timing) is dropped with a log line, never the load. Everything decided is logged.
 */
async function loadAuto(path: string, contract: ModelContract, options: SessionOptions): Promise<StepModel> {
  const { session: cpu } = await loadSession(path, { ...options, device: 'cpu' });
  let best: (DeviceRoute & { ms: number }) | undefined;
  try {
    checkContract(cpu, contract, path);
    const axes = batchAxes(contract);
    const free = axes.size > 0 && batchIsFree(cpu, axes);
    const sizes = autoBatchSizes(Math.max(1, Math.floor(options.batch?.maxBatch ?? 32)), free);
    let cpuMs: number[] | undefined;
    for (const provider of autoCandidates()) {
      let device: ort.InferenceSession;
      try {
        ({ session: device } = await loadSession(path, { ...options, device: provider }));
      } catch (e) {
        const cause = (e as { cause?: unknown }).cause;
        const reason = (cause instanceof Error ? cause : (e as Error)).message.split('\n')[0];
        log.info(`${path}: ${provider === 'cuda' ? 'CUDA' : 'WebGPU'} unavailable (${reason}); falling back to CPU`);
        sharedMetrics.providerFallbacks.inc({ model: path });
        continue;
      }
      let keep = false;
      try {
        if (!contract.probe) {
          log.warn(`${contract.name} (${path}): ${provider} not measured: its contract has no probe input to check and time it with; running on the CPU`);
          continue;
        }
        const check = await checkDevice(device, cpu, contract);
        if (!check.ok) {
          log.warn(`${contract.name} (${path}): not run on ${provider}: its output '${check.output}' differs from the CPU's by ${check.maxDiff.toExponential(2)}; running on the CPU`);
          sharedMetrics.deviceCheckFailures.inc({ model: contract.name, provider });
          continue;
        }
        cpuMs ??= await measureStep(cpu, contract, sizes);
        const devMs = await measureStep(device, contract, sizes);
        const from = deviceFromBatch(sizes, cpuMs, devMs);
        const costs = describeCosts(sizes, cpuMs, devMs, provider);
        if (from === null) {
          log.info(`${contract.name} (${path}): auto: steps stay on the CPU, ${provider} is not faster at any batch size (${costs})`);
          continue;
        }
        const ms = devMs[devMs.length - 1];
        log.info(`${contract.name} (${path}): auto: batches of ${from} or more run on ${provider}, smaller ones on the CPU (${costs})`);
        if (!best || ms < best.ms) {
          if (best) await releaseCandidate(best.session, path, best.provider);
          best = { session: device, provider, fromBatch: from, ms };
          keep = true;
        }
      } catch (e) {
        // A device that fails its check or its timing (out of memory at a large batch, a lost device) is not used; the CPU serves.
        log.warn(`${contract.name} (${path}): not run on ${provider}: measuring it failed (${(e as Error).message.split('\n')[0]}); running on the CPU`);
        sharedMetrics.deviceCheckFailures.inc({ model: contract.name, provider });
      } finally {
        if (!keep) await releaseCandidate(device, path, provider);
      }
    }
  } catch (e) {
    await cpu.release();
    if (best) await releaseCandidate(best.session, path, best.provider);
    throw e;
  }
  sharedMetrics.provider.set({ model: path, provider: 'cpu' }, 1);
  if (best && best.fromBatch === 1) {
    // The device is faster for every batch, a lone step's included: it is the model's only session.
    await cpu.release();
    sharedMetrics.provider.set({ model: path, provider: 'cpu' }, 0);
    if (!willBatch(best.session, contract, options)) {
      const resident = await reopenResident(best.session, best.provider, contract, path, options);
      return StepModel.fromSessions(resident, contract, best.provider, path, options, undefined, true);
    }
    return StepModel.fromSessions(best.session, contract, best.provider, path, options);
  }
  const route = best ? { session: best.session, provider: best.provider, fromBatch: best.fromBatch } : undefined;
  return StepModel.fromSessions(cpu, contract, 'cpu', path, options, route);
}

/** Whether a model's steps batch across streams: its graph has a free batch dim and maxBatch allows more than one. */
function willBatch(session: ort.InferenceSession, contract: ModelContract, options: SessionOptions): boolean {
  const axes = batchAxes(contract);
  return axes.size > 0 && (options.batch?.maxBatch ?? 32) > 1 && batchIsFree(session, axes);
}

/**
 * The checked device session swapped for one that keeps the state outputs on the device. The
 * device check ran on the plain session, because it compares the state outputs on the CPU, and
 * a device-resident output cannot be read there.
 */
async function reopenResident(checked: ort.InferenceSession, provider: Provider, contract: ModelContract, path: string, options: SessionOptions): Promise<ort.InferenceSession> {
  if (provider === 'cpu') throw new Error('reopenResident: the CPU has no device memory');
  let session: ort.InferenceSession;
  try {
    session = await residentSession(path, provider, options.threads ?? 1, contract.state.map((p) => p.output));
  } finally {
    await checked.release();
  }
  log.info(`${contract.name} (${path}) on ${provider}: its state stays on the device between steps`);
  return session;
}

/** Releases a candidate device session and clears the provider gauge its load set. */
async function releaseCandidate(session: ort.InferenceSession, path: string, provider: Provider): Promise<void> {
  sharedMetrics.provider.set({ model: path, provider }, 0);
  await session.release();
}
