/**
 * Batched steps: many streams' steps of one shared model run as one ONNX call.
 *
 * Each stream submits its whole feed (its inputs and its state). Steps whose feeds can stack
 * (same dtypes, same sizes on every axis but the batch axis, equal shared inputs such as
 * Silero's `sr`) are concatenated along the batch axis, run once, and every output is split back
 * along it, so each stream gets exactly the rows it fed. Streams join and leave at any time: a
 * batch is whatever is waiting when a run slot frees up.
 *
 * Runs in flight: onnxruntime-node computes a run synchronously on the thread that calls it. On
 * the main thread (SessionOptions.thread 'main') one run at a time is all there can be, and a
 * batch is the only way many streams' steps share one run's overhead. On a model's worker thread
 * (worker-session.ts) two batches are in flight (`parallel` 2): the worker computes one while
 * the main thread takes the results of the one before and stacks the next.
 *
 * When: with `maxWaitMs` 0 (the default) a step never waits for company. It runs as soon as a
 * run slot is free (`parallel` runs in flight), together with whatever else was
 * submitted in the same turn of the event loop; while a run is in flight, new steps queue and
 * go together in the next one. So an idle model adds no latency, and a loaded one batches by
 * itself. `maxWaitMs` > 0 holds a batch that is not full yet for up to that long, trading
 * latency for fuller batches (sherpa-onnx's server waits 10 ms).
 *
 * One stream's bad step never touches another's: when a batched run fails, its steps are run
 * again one by one and each gets its own result or error.
 */
import * as ort from 'onnxruntime-node';
import { logger } from '../log.js';
import { sharedMetrics } from '../metrics.js';
import type { ModelContract, TensorSpec } from './contract.js';

export interface BatchOptions {
  /** Most steps in one run (default 32; 1 turns batching off). */
  maxBatch?: number;
  /** How long a batch that is not full may wait for more steps (default 0: never). */
  maxWaitMs?: number;
  /** Runs in flight at once (default 1 on the main thread, 2 for a model on a worker thread). */
  parallel?: number;
}

type Feeds = Record<string, ort.Tensor>;
type Outputs = Record<string, ort.Tensor>;
/**
 * One run of `rows` steps stacked along the batch axes. `handed` names the feeds whose buffers
 * the batcher made for this run alone: the run may take them (a worker thread's, by transfer).
 */
type Run = (feeds: Feeds, rows: number, handed?: ReadonlySet<string>) => Promise<Outputs>;

interface Pending {
  feeds: Feeds;
  key: string;
  /** Rows this step contributes along the batch axis (1 for a stream's step). */
  rows: number;
  /** Held once already for company (maxWaitMs): never held again. */
  waited?: boolean;
  resolve: (out: Outputs) => void;
  reject: (e: unknown) => void;
}

const log = logger('batch');

type Data = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/** The batch axis of each tensor of a contract: where its shape has the contract's batch dim; absent = shared. */
export function batchAxes(contract: ModelContract): Map<string, number> {
  const axes = new Map<string, number>();
  const dim = contract.batchDim;
  if (dim === undefined) return axes;
  const add = (s: TensorSpec) => {
    const i = s.shape.indexOf(dim);
    if (i >= 0) axes.set(s.name, i);
  };
  contract.inputs.forEach(add);
  contract.outputs.forEach(add);
  return axes;
}

/**
 * Concatenates tensors along `axis` (all other dims equal), into `into` when given (a buffer of
 * the right type and length, reused between runs: a batch's stacked state is the bulk of what a
 * loaded process would otherwise allocate).
 */
export function concatAlong(tensors: readonly ort.Tensor[], axis: number, into?: Data): ort.Tensor {
  const first = tensors[0];
  const dims = [...first.dims];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const total = tensors.reduce((n, t) => n + t.dims[axis], 0);
  dims[axis] = total;
  const Ctor = (first.data as Data).constructor as new (n: number) => Data;
  const out = into ?? new Ctor(outer * total * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const t of tensors) {
      const span = t.dims[axis] * inner;
      const src = (t.data as Data).subarray(o * span, (o + 1) * span);
      (out as Float32Array).set(src as Float32Array, at);
      at += span;
    }
  }
  return new ort.Tensor(first.type as 'float32', out as Float32Array, dims);
}

/**
 * The tensors' data as one view when, stacked along a leading `axis`, they already lie side by
 * side in one buffer, in order (each stream's state is its rows of the last run's output: when
 * the same streams step again in the same order, their states are that output, whole); else
 * undefined.
 */
export function adjacentViews(tensors: readonly ort.Tensor[], axis: number): Data | undefined {
  if (tensors[0].dims.slice(0, axis).some((d) => d !== 1)) return undefined;
  const first = tensors[0].data as Data;
  // Empty pieces all sit at one offset: nothing to gain, and no order to tell.
  if (first.byteLength === 0) return undefined;
  let end = first.byteOffset + first.byteLength;
  for (let i = 1; i < tensors.length; i++) {
    const d = tensors[i].data as Data;
    if (d.buffer !== first.buffer || d.constructor !== first.constructor || d.byteOffset !== end) return undefined;
    end += d.byteLength;
  }
  const Ctor = first.constructor as unknown as new (b: ArrayBufferLike, offset: number, length: number) => Data;
  return new Ctor(first.buffer, first.byteOffset, (end - first.byteOffset) / first.BYTES_PER_ELEMENT);
}

/**
 * Splits a tensor along `axis` into pieces of the given sizes. Along the leading axis each piece
 * is a view of its rows (no copy: the pieces are disjoint, and the run's output buffer is nobody
 * else's); along an inner axis each piece is a copy.
 */
export function splitAlong(t: ort.Tensor, axis: number, sizes: readonly number[]): ort.Tensor[] {
  const dims = t.dims;
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const total = dims[axis];
  const data = t.data as Data;
  const Ctor = data.constructor as new (n: number) => Data;
  const pieces: ort.Tensor[] = [];
  let start = 0;
  for (const size of sizes) {
    if (outer === 1) {
      const d = [...dims];
      d[axis] = size;
      pieces.push(new ort.Tensor(t.type as 'float32', data.subarray(start * inner, (start + size) * inner) as Float32Array, d));
      start += size;
      continue;
    }
    const out = new Ctor(outer * size * inner);
    for (let o = 0; o < outer; o++) {
      const from = (o * total + start) * inner;
      (out as Float32Array).set((data as Float32Array).subarray(from, from + size * inner), o * size * inner);
    }
    const d = [...dims];
    d[axis] = size;
    pieces.push(new ort.Tensor(t.type as 'float32', out as Float32Array, d));
    start += size;
  }
  return pieces;
}

export class StepBatcher {
  private queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly parallel: number;
  /**
   * Stacking buffers free for the next run, per input, each sized for maxBatch steps (a smaller
   * batch uses the front of one). A run takes one per batched input and gives it back when done.
   */
  private readonly spare = new Map<string, Data[]>();
  private warnedRetry = false;

  constructor(
    private readonly run: Run,
    private readonly axes: Map<string, number>,
    private readonly modelName: string,
    options: BatchOptions = {},
    /**
     * Stack each batch into buffers of its own, handed to the run (a worker thread takes them
     * without a copy), instead of buffers reused from run to run.
     */
    private readonly handOver = false,
  ) {
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 32));
    this.maxWaitMs = Math.max(0, options.maxWaitMs ?? 0);
    this.parallel = Math.max(1, Math.floor(options.parallel ?? 1));
  }

  /** Steps waiting for a run slot (for tests and metrics). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(feeds: Feeds): Promise<Outputs> {
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, key: this.keyOf(feeds), rows: this.rowsOf(feeds), resolve, reject });
      this.schedule();
    });
  }

  /** Steps that can share a run have equal keys: dtypes and non-batch dims, and shared inputs' values. */
  private keyOf(feeds: Feeds): string {
    const parts: string[] = [];
    for (const name of Object.keys(feeds).sort()) {
      const t = feeds[name];
      const axis = this.axes.get(name);
      if (axis === undefined) {
        // Shared inputs are small (a rate, a flag): their values are part of the key.
        parts.push(`${name}:${t.type}:${t.dims.join('x')}=${Array.from(t.data as ArrayLike<unknown>, String).join(',')}`);
      } else {
        parts.push(`${name}:${t.type}:${t.dims.map((d, i) => (i === axis ? '*' : d)).join('x')}`);
      }
    }
    return parts.join('|');
  }

  private rowsOf(feeds: Feeds): number {
    for (const [name, t] of Object.entries(feeds)) {
      const axis = this.axes.get(name);
      if (axis !== undefined) return t.dims[axis];
    }
    return 1;
  }

  private schedule(): void {
    if (this.running >= this.parallel || this.scheduled) return;
    // Gather what the rest of this turn submits, then run.
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.parallel && this.queue.length > 0) {
      const head = this.queue[0];
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      for (const p of this.queue) (p.key === head.key && batch.length < this.maxBatch ? batch : rest).push(p);
      if (batch.length < this.maxBatch && this.maxWaitMs > 0 && this.waitTimer === undefined && this.running === 0 && !head.waited) {
        // Hold a batch that is not full, once, for up to maxWaitMs.
        for (const p of batch) p.waited = true;
        this.waitTimer = setTimeout(() => {
          this.waitTimer = undefined;
          this.pump();
        }, this.maxWaitMs);
        return;
      }
      if (this.waitTimer !== undefined) {
        clearTimeout(this.waitTimer);
        this.waitTimer = undefined;
      }
      this.queue = rest;
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    sharedMetrics.batchSize.observe({ model: this.modelName }, batch.length);
    if (batch.length === 1) {
      const p = batch[0];
      try {
        p.resolve(await this.run(p.feeds, p.rows));
      } catch (e) {
        p.reject(e);
      }
      return;
    }
    let out: Outputs;
    const taken: [string, Data][] = []; // [input, buffer]
    const handed = new Set<string>();
    try {
      const feeds: Feeds = {};
      for (const name of Object.keys(batch[0].feeds)) {
        const axis = this.axes.get(name);
        if (axis === undefined) {
          feeds[name] = batch[0].feeds[name];
          continue;
        }
        const parts = batch.map((p) => p.feeds[name]);
        const first = parts[0].data as Data;
        const rows = parts.reduce((n, t) => n + t.dims[axis], 0);
        const perRow = first.length / parts[0].dims[axis];
        const length = perRow * rows;
        const Ctor = first.constructor as new (n: number) => Data;
        // Already stacked (the same streams, in the same order, stepping again): the run reads
        // them where they are. Not when handing over: a transfer would take the streams' states.
        const whole = this.handOver ? undefined : adjacentViews(parts, axis);
        if (whole) {
          const dims = [...parts[0].dims];
          dims[axis] = rows;
          feeds[name] = new ort.Tensor(parts[0].type as 'float32', whole as Float32Array, dims);
          continue;
        }
        if (this.handOver) {
          feeds[name] = concatAlong(parts, axis, new Ctor(length));
          handed.add(name);
          continue;
        }
        let buffer = this.spare.get(name)?.pop();
        if (!buffer || buffer.length < length || buffer.constructor !== first.constructor) buffer = new Ctor(Math.max(length, perRow * this.maxBatch));
        taken.push([name, buffer]);
        feeds[name] = concatAlong(parts, axis, buffer.subarray(0, length) as Data);
      }
      out = await this.run(feeds, batch.reduce((a, p) => a + p.rows, 0), handed);
    } catch (e) {
      // Someone's step is bad (or the batch is): each step alone, each its own result. Said once
      // per model and counted, so a model that can never batch does not pass for one that does.
      sharedMetrics.batchRetries.inc({ model: this.modelName });
      if (!this.warnedRetry) {
        this.warnedRetry = true;
        log.warn(`${this.modelName}: a batch of ${batch.length} steps failed (${(e as Error).message.split('\n')[0]}); running them one by one (further retries are counted in causeway_batch_retries_total)`);
      }
      for (const p of batch) {
        try {
          p.resolve(await this.run(p.feeds, p.rows));
        } catch (e) {
          p.reject(e);
        }
      }
      return;
    } finally {
      // The run has read its inputs (or failed): the stacking buffers serve the next run.
      for (const [name, data] of taken) {
        const list = this.spare.get(name) ?? [];
        if (list.length < this.parallel) list.push(data);
        this.spare.set(name, list);
      }
    }
    const sizes = batch.map((p) => p.rows);
    const pieces: Record<string, ort.Tensor[]> = {};
    for (const [name, t] of Object.entries(out)) {
      const axis = this.axes.get(name);
      if (axis === undefined || t.dims[axis] !== sizes.reduce((a, b) => a + b, 0)) {
        for (const p of batch) p.reject(new Error(`${this.modelName}: output '${name}' has no batch axis the contract names; it cannot be split between streams`));
        return;
      }
      pieces[name] = splitAlong(t, axis, sizes);
      t.dispose();
    }
    batch.forEach((p, i) => {
      const mine: Outputs = {};
      for (const name of Object.keys(pieces)) mine[name] = pieces[name][i];
      p.resolve(mine);
    });
  }
}

/**
 * Whether the graph lets the batch dim vary: every batched input's batch dim is symbolic in the
 * session's metadata (a graph exported with batch fixed to 1 runs each step alone).
 */
export function batchIsFree(session: ort.InferenceSession, axes: Map<string, number>): boolean {
  const meta = session.inputMetadata as readonly { name: string; shape?: readonly (number | string)[] }[];
  for (const v of meta) {
    const axis = axes.get(v.name);
    if (axis !== undefined && v.shape !== undefined && typeof v.shape[axis] === 'number') return false;
  }
  return true;
}
