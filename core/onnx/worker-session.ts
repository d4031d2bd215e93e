/**
 * A CPU session that runs on a worker thread of its own (session-worker.ts).
 *
 * Why: onnxruntime-node computes a run synchronously on the calling thread, so in one process
 * every model run and all the JavaScript around it (features, resampling, RxJS, WebRTC) share
 * the one main thread, and a second core sits idle. A model on its own worker computes while
 * the main thread prepares the next batch. Feeds are copied to the worker (each stream's state
 * stays its own); outputs come back as transferred buffers, without a copy.
 */
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';

type Data = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/** @internal the messages between the two threads */
export interface WireTensor {
  type: string;
  data: Data;
  dims: number[];
}
/** @internal */
export interface WorkerStart {
  path: string;
  threads: number;
}
/** @internal */
export type WorkerRequest = { id: number; feeds: Record<string, WireTensor>; release?: undefined } | { release: true; id?: undefined; feeds?: undefined };
/** @internal */
export type WorkerReply = { id: number; outputs: Record<string, WireTensor>; error?: undefined } | { id: number; error: string; outputs?: undefined };

interface Waiting {
  resolve: (out: Record<string, ort.Tensor>) => void;
  reject: (e: unknown) => void;
}

/** A worker that dies more often than this within RESTART_WINDOW_MS stays dead: the model's runs fail from then on. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

export class WorkerSession {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private worker: Worker;
  /** While a dead worker's replacement loads: runs wait for it. */
  private replacing: Promise<void> | undefined;
  private readonly deaths: number[] = [];
  /** Set when the session is released or its worker died too often: every later run fails with it. */
  private failure: Error | undefined;

  private constructor(
    worker: Worker,
    readonly path: string,
    private readonly threads: number,
    /** Called once per worker death, with why and whether a new worker is started. */
    private readonly onDeath: (why: string, restarting: boolean) => void,
  ) {
    this.worker = worker;
    this.watch(worker);
  }

  /** Starts the worker and loads `path` there (the caller has checked the graph on this thread already). */
  static async start(path: string, threads = 1, onDeath: (why: string, restarting: boolean) => void = () => {}): Promise<WorkerSession> {
    return new WorkerSession(await startWorker(path, threads), path, threads, onDeath);
  }

  /**
   * Runs `feeds` on the worker. Each feed is copied there, except those named in `handed`: their
   * buffers (whole, the caller's to give away) move to the worker and are gone from this thread.
   */
  async run(feeds: Record<string, ort.Tensor>, handed?: ReadonlySet<string>): Promise<Record<string, ort.Tensor>> {
    if (this.replacing) await this.replacing;
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [k, t] of Object.entries(feeds)) {
      let data = t.data as Data;
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      // Otherwise a copy of exactly the tensor's bytes (a view would send its whole buffer), handed over without a second copy.
      if (!(handed?.has(k) && whole)) data = data.slice() as Data;
      wire[k] = { type: t.type, data, dims: [...t.dims] };
      transfer.push(data.buffer as ArrayBuffer);
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) this.worker.ref();
      this.worker.postMessage({ id, feeds: wire } satisfies WorkerRequest, transfer);
    });
  }

  async release(): Promise<void> {
    if (this.failure) return;
    this.failure = new ModelError('disposed', `${this.path}: its session was released`);
    this.rejectWaiting(this.failure);
    await this.replacing;
    await this.worker.terminate();
  }

  /**
   * @internal for tests: ends the worker thread as a crash would (an uncaught error, a worker
   * out of memory), without releasing the session.
   */
  async killWorkerForTest(): Promise<void> {
    await this.worker.terminate();
  }

  private watch(worker: Worker): void {
    worker.on('message', (m: WorkerReply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(fromWire(m.outputs));
    });
    let dead = false;
    const gone = (why: string) => {
      if (dead || worker !== this.worker || this.failure) return;
      dead = true;
      this.died(`its worker thread ${why}`);
    };
    worker.on('error', (e) => gone(`failed (${e.message.split('\n')[0]})`));
    worker.on('exit', (code) => gone(`exited (code ${code})`));
  }

  /**
   * The runs in flight fail (their streams keep the state they had: feeds were copies); later
   * runs go to a new worker, unless this one is the MAX_RESTARTS-th death within the window.
   */
  private died(why: string): void {
    const error = new ModelError('model-run-failed', `${this.path}: ${why}`);
    this.rejectWaiting(error);
    const now = Date.now();
    this.deaths.push(now);
    while (this.deaths[0] < now - RESTART_WINDOW_MS) this.deaths.shift();
    const restarting = this.deaths.length < MAX_RESTARTS;
    this.onDeath(why, restarting);
    if (!restarting) {
      this.failure = new ModelError('model-run-failed', `${this.path}: ${why}, the ${this.deaths.length}th worker death within ${RESTART_WINDOW_MS / 1000} s; not restarted`);
      return;
    }
    this.replacing = startWorker(this.path, this.threads).then(
      (worker) => {
        this.replacing = undefined;
        if (this.failure) {
          void worker.terminate();
          return;
        }
        this.worker = worker;
        this.watch(worker);
      },
      (e: unknown) => {
        this.replacing = undefined;
        this.failure ??= new ModelError('model-run-failed', `${this.path}: ${why}, and a new worker could not start (${(e as Error).message.split('\n')[0]})`);
      },
    );
  }

  private rejectWaiting(error: Error): void {
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
  }
}

async function startWorker(path: string, threads: number): Promise<Worker> {
  const worker = new Worker(new URL('./session-worker.js', import.meta.url), { workerData: { path, threads } satisfies WorkerStart });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => reject(new ModelError('model-invalid', `cannot load ONNX model ${path} on a worker thread: ${e.message.split('\n')[0]}`, { cause: e }));
    worker.once('error', fail);
    worker.once('message', (m: WorkerReply) => {
      worker.off('error', fail);
      if (m.error !== undefined) {
        void worker.terminate();
        fail(new Error(m.error));
      } else resolve();
    });
  });
  // Idle workers do not keep the process alive; one with a run in flight does (run() refs it).
  worker.unref();
  return worker;
}

function fromWire(outputs: Record<string, WireTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(outputs)) out[k] = new ort.Tensor(v.type as 'float32', v.data as Float32Array, v.dims);
  return out;
}
