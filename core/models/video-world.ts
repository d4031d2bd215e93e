/**
 * Causeway's autoregressive world model (models/video-world): frame-by-frame video generation with
 * a fixed-shape rolling KV cache of S sink frames + a ring of W recent frames
 * (kernels/sink-kv-cache.ts), positions relative to the cache, so frame N costs and behaves as
 * frame S + W for every N.
 *
 * Contract (step.onnx; B is the batch, 1 per stream, free so that streams' steps batch):
 *   inputs  frame [B, T, P]              the current frame as T patch tokens of P values in [-1, 1]
 *           cond [B, C]                  its conditioning (scene one-hot, command)
 *           past_k, past_v [B, L, S+W, T, D]  the cache: each slot's keys and values per layer
 *           slot_distance [B, S+W] int64 each slot's distance from this frame in cache order
 *                                        (sinks first, then the window oldest to newest; the
 *                                        frame itself is at distance 0), -1 for an empty slot
 *   outputs next_frame [B, T, P]         the predicted next frame
 *           new_k, new_v [B, L, T, D]    this frame's keys and values, which the runner writes
 *                                        into the cache's next slot
 * The cache lives outside the graph (the runner owns it and writes one slot per frame), so any
 * exported model with these tensors runs here; settings come from step.json (size, patch, tokens,
 * patch_dim, layers, d, sink_frames, window_frames, cond_dim). offline.onnx beside it is the same
 * weights over a whole sequence (frames [B, N, T, P], cond [B, N, C], distance [N, N] int64 ->
 * next_frames [B, N, T, P], all_k, all_v [B, N, L, T, D]): the streaming == offline reference,
 * and the re-cache pass when the conditioning changes (LongLive's KV re-cache).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readSidecar } from './sidecar.js';
import { SinkKvCache, sinkWindowFrames } from '../../kernels/sink-kv-cache.js';
import { CausewayError, ModelError } from '../errors.js';
import type { ModelContract } from '../onnx/contract.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { SessionOptions } from '../onnx/session.js';
import type { StepState } from '../onnx/step-model.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The trained model Causeway ships (models/video-world/model). */
export function defaultVideoWorldModel(): string {
  const path = join(PACKAGE_ROOT, 'models', 'video-world', 'model', 'step.onnx');
  if (!existsSync(path)) throw new ModelError('model-not-found', `the video-world model ${path} is not there (it is built by bash models/video-world/make.sh); pass a model path`);
  return path;
}

export interface VideoWorldConfig {
  /** Frame side in pixels (frames are size x size RGB). */
  size: number;
  patch: number;
  /** T: patch tokens per frame, (size / patch)^2. */
  tokens: number;
  /** P: values per token, patch * patch * 3. */
  patchDim: number;
  layers: number;
  /** D: floats per token in each of K and V. */
  d: number;
  sinkFrames: number;
  windowFrames: number;
  condDim: number;
}

export function readVideoWorldConfig(modelPath: string): VideoWorldConfig {
  const { bad, int } = readSidecar(modelPath, 'video-world model', 'causeway-video-world');
  const size = int('size');
  const patch = int('patch');
  if (size % patch !== 0) throw bad('patch', `a divisor of size ${size} as`);
  const tokens = int('tokens');
  if (tokens !== (size / patch) ** 2) throw bad('tokens', `(size / patch)^2 = ${(size / patch) ** 2} as`);
  const patchDim = int('patch_dim');
  if (patchDim !== patch * patch * 3) throw bad('patch_dim', `patch * patch * 3 = ${patch * patch * 3} as`);
  return { size, patch, tokens, patchDim, layers: int('layers'), d: int('d'), sinkFrames: int('sink_frames', 0), windowFrames: int('window_frames'), condDim: int('cond_dim') };
}

export function videoWorldContract(c: VideoWorldConfig): ModelContract {
  const slots = c.sinkFrames + c.windowFrames;
  const cache = ['B', c.layers, slots, c.tokens, c.d];
  return {
    name: 'Causeway video-world',
    inputs: [
      { name: 'frame', dtype: 'float32', shape: ['B', c.tokens, c.patchDim] },
      { name: 'cond', dtype: 'float32', shape: ['B', c.condDim] },
      { name: 'past_k', dtype: 'float32', shape: cache },
      { name: 'past_v', dtype: 'float32', shape: cache },
      { name: 'slot_distance', dtype: 'int64', shape: ['B', slots] },
      { name: 'write_slot', dtype: 'int64', shape: ['B'] },
    ],
    outputs: [
      { name: 'next_frame', dtype: 'float32', shape: ['B', c.tokens, c.patchDim] },
      { name: 'next_past_k', dtype: 'float32', shape: cache },
      { name: 'next_past_v', dtype: 'float32', shape: cache },
    ],
    // The cache is the graph's state: it returns it with the new frame's keys and values in
    // `write_slot`, so on a device it stays there from frame to frame (StepModel.resident).
    state: [
      { input: 'past_k', output: 'next_past_k', initialShape: [1, ...cache.slice(1)] as number[] },
      { input: 'past_v', output: 'next_past_v', initialShape: [1, ...cache.slice(1)] as number[] },
    ],
    batchDim: 'B',
    probe: { dims: { B: 1 }, ints: { slot_distance: 1, write_slot: 0 } },
  };
}

export function videoWorldOfflineContract(c: VideoWorldConfig): ModelContract {
  return {
    name: 'Causeway video-world (offline)',
    inputs: [
      { name: 'frames', dtype: 'float32', shape: ['B', 'N', c.tokens, c.patchDim] },
      { name: 'cond', dtype: 'float32', shape: ['B', 'N', c.condDim] },
      { name: 'distance', dtype: 'int64', shape: ['N', 'N'] },
    ],
    outputs: [
      { name: 'next_frames', dtype: 'float32', shape: ['B', 'N', c.tokens, c.patchDim] },
      { name: 'all_k', dtype: 'float32', shape: ['B', 'N', c.layers, c.tokens, c.d] },
      { name: 'all_v', dtype: 'float32', shape: ['B', 'N', c.layers, c.tokens, c.d] },
    ],
    state: [],
  };
}

/** [N, N] int64, row n: each frame's distance from frame n in cache order under the sink + window rule (-1: not visible). */
export function distanceMatrix(n: number, sinkFrames: number, windowFrames: number): BigInt64Array {
  const d = new BigInt64Array(n * n).fill(-1n);
  for (let q = 0; q < n; q++) {
    const seen = sinkWindowFrames(q, sinkFrames, windowFrames);
    seen.forEach((f, p) => (d[q * n + f] = BigInt(seen.length - p)));
    d[q * n + q] = 0n;
  }
  return d;
}

/**
 * On a GPU named explicitly, streams do not batch unless asked to: one stream's cache then stays
 * in device memory between frames, where batching would upload every stream's cache each frame
 * (0.5 MB for the shipped model; `npm run bench -- video-device` times both on a device).
 */
function stepOptions(options: SessionOptions): SessionOptions {
  const gpu = options.device === 'cuda' || options.device === 'webgpu';
  return gpu && options.batch === undefined ? { ...options, batch: { maxBatch: 1 } } : options;
}

function offlinePathOf(stepPath: string): string {
  return stepPath.replace(/step\.onnx$/, 'offline.onnx');
}

/**
 * One stream through a shared video-world model: a frame (T x P tokens) and its conditioning in,
 * the next frame out. Keeps the cache, and beside it each held frame's tokens and conditioning,
 * which a re-cache recomputes the keys and values from.
 */
export class VideoWorldStream {
  private readonly state: StepState;
  readonly cache: SinkKvCache;
  private readonly heldFrames: Float32Array;
  private readonly heldCond: Float32Array;
  private readonly distance: BigInt64Array;
  private readonly shape: { cache: number[]; frame: number[] };
  /** The last predicted frame (T x P), reused by the next step. */
  readonly next: Float32Array;
  private offline: ModelLease | undefined;
  private disposed = false;

  private constructor(
    private readonly lease: ModelLease,
    readonly config: VideoWorldConfig,
    private readonly modelPath: string,
    private readonly options: SessionOptions,
  ) {
    const c = config;
    this.state = lease.model.newState();
    this.cache = new SinkKvCache({ layers: c.layers, sinkFrames: c.sinkFrames, windowFrames: c.windowFrames, tokensPerFrame: c.tokens, width: c.d });
    this.heldFrames = new Float32Array(this.cache.slots * c.tokens * c.patchDim);
    this.heldCond = new Float32Array(this.cache.slots * c.condDim);
    this.distance = new BigInt64Array(this.cache.slots);
    this.shape = { cache: [1, c.layers, this.cache.slots, c.tokens, c.d], frame: [1, c.tokens, c.patchDim] };
    this.next = new Float32Array(c.tokens * c.patchDim);
  }

  static async open(modelPath: string, options: SessionOptions = {}): Promise<VideoWorldStream> {
    const config = readVideoWorldConfig(modelPath);
    const lease = await acquireModel(modelPath, videoWorldContract(config), stepOptions(options));
    return new VideoWorldStream(lease, config, modelPath, options);
  }

  /**
   * Loads the step and offline graphs under the keys open() and recache() use and keeps them
   * until the returned function is called: a server loads them once, before its first session.
   */
  static async preload(modelPath: string, options: SessionOptions = {}): Promise<() => void> {
    const config = readVideoWorldConfig(modelPath);
    const step = await acquireModel(modelPath, videoWorldContract(config), stepOptions(options));
    try {
      const offline = await acquireModel(offlinePathOf(modelPath), videoWorldOfflineContract(config), { ...options, batch: { maxBatch: 1 } });
      return () => {
        offline.release();
        step.release();
      };
    } catch (e) {
      step.release();
      throw e;
    }
  }

  get provider(): string {
    return this.lease.model.provider;
  }

  /** Frames stepped since the start or the last reset. */
  get frames(): number {
    return this.cache.framesSeen;
  }

  /** One frame: attends to the cache and itself, resolves with the predicted next frame (`next`); the frame's K and V join the cache. */
  async step(frame: Float32Array, cond: Float32Array): Promise<Float32Array> {
    if (this.disposed) throw new CausewayError('disposed', 'video-world: stream used after dispose');
    const c = this.config;
    if (frame.length !== c.tokens * c.patchDim) throw new CausewayError('invalid-frame', `video-world: a frame needs ${c.tokens} x ${c.patchDim} = ${c.tokens * c.patchDim} values, got ${frame.length}`);
    if (cond.length !== c.condDim) throw new CausewayError('invalid-argument', `video-world: conditioning needs ${c.condDim} values, got ${cond.length}`);
    const q = this.cache.queryPosition();
    for (let s = 0; s < this.cache.slots; s++) this.distance[s] = this.cache.positions[s] < 0 ? -1n : BigInt(q - this.cache.positions[s]);
    const slot = this.cache.nextSlot();
    const out = await this.lease.model.step(
      {
        frame: new ort.Tensor('float32', frame, this.shape.frame),
        cond: new ort.Tensor('float32', cond, [1, c.condDim]),
        slot_distance: new ort.Tensor('int64', this.distance, [1, this.cache.slots]),
        write_slot: new ort.Tensor('int64', BigInt64Array.of(BigInt(slot)), [1]),
      },
      this.state,
    );
    this.next.set(out.next_frame.data as Float32Array);
    // The graph wrote the slot in its returned cache (now this stream's state); this is the bookkeeping.
    this.cache.advance();
    this.heldFrames.set(frame, slot * frame.length);
    this.heldCond.set(cond, slot * c.condDim);
    for (const t of Object.values(out)) t.dispose();
    return this.next;
  }

  /**
   * LongLive's KV re-cache: recomputes every held frame's keys and values (sinks included, so the
   * cache is one consistent past) in one pass of the offline graph over the held frames in cache
   * order, each with its conditioning rewritten by `rewrite` (e.g. the new scene, its command
   * kept). Positions do not move; the next step attends to the recomputed past.
   */
  async recache(rewrite: (cond: Float32Array) => void): Promise<void> {
    if (this.disposed) throw new CausewayError('disposed', 'video-world: stream used after dispose');
    const c = this.config;
    const order = this.cache.slotsInOrder();
    const n = order.length;
    if (n === 0) return;
    const frameSize = c.tokens * c.patchDim;
    const frames = new Float32Array(n * frameSize);
    const cond = new Float32Array(n * c.condDim);
    order.forEach((slot, i) => {
      frames.set(this.heldFrames.subarray(slot * frameSize, (slot + 1) * frameSize), i * frameSize);
      // Rewritten in the copy: the held conditioning changes only once the cache has.
      const mine = cond.subarray(i * c.condDim, (i + 1) * c.condDim);
      mine.set(this.heldCond.subarray(slot * c.condDim, (slot + 1) * c.condDim));
      rewrite(mine);
    });
    if (this.offline === undefined) {
      const lease = await acquireModel(offlinePathOf(this.modelPath), videoWorldOfflineContract(c), { ...this.options, batch: { maxBatch: 1 } });
      if (this.disposed) {
        lease.release();
        throw new CausewayError('disposed', 'video-world: stream disposed during a re-cache');
      }
      this.offline = lease;
    }
    const state = this.offline.model.newState();
    try {
      const out = await this.offline.model.step(
        {
          frames: new ort.Tensor('float32', frames, [1, n, c.tokens, c.patchDim]),
          cond: new ort.Tensor('float32', cond, [1, n, c.condDim]),
          distance: new ort.Tensor('int64', distanceMatrix(n, n, 1), [n, n]),
        },
        state,
      );
      const k = out.all_k.data as Float32Array;
      const v = out.all_v.data as Float32Array;
      const per = c.tokens * c.d;
      // The new cache, laid out [1, L, S, T, D] by slot; slots not holding a frame are never attended to.
      const ringK = new Float32Array(c.layers * this.cache.slots * per);
      const ringV = new Float32Array(ringK.length);
      order.forEach((slot, i) => {
        for (let l = 0; l < c.layers; l++) {
          const at = (i * c.layers + l) * per;
          const to = (l * this.cache.slots + slot) * per;
          ringK.set(k.subarray(at, at + per), to);
          ringV.set(v.subarray(at, at + per), to);
        }
        this.heldCond.set(cond.subarray(i * c.condDim, (i + 1) * c.condDim), slot * c.condDim);
      });
      this.state.replace('past_k', new ort.Tensor('float32', ringK, this.shape.cache));
      this.state.replace('past_v', new ort.Tensor('float32', ringV, this.shape.cache));
      for (const t of Object.values(out)) t.dispose();
    } finally {
      state.dispose();
    }
  }

  /**
   * The cache's keys and values, [1, L, S, T, D] each, read from this stream's state (for tests
   * and inspection). Refused when the state lives on a device: it cannot be read there.
   */
  cacheValues(): { keys: Float32Array; values: Float32Array } {
    if (this.lease.model.resident) throw new CausewayError('invalid-argument', 'video-world: the cache is in device memory (a resident model) and cannot be read on the host');
    return { keys: this.state.get('past_k').data as Float32Array, values: this.state.get('past_v').data as Float32Array };
  }

  reset(): void {
    this.state.reset();
    this.cache.reset();
    this.heldFrames.fill(0);
    this.heldCond.fill(0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.state.dispose();
    this.lease.release();
    this.offline?.release();
  }
}
