/**
 * A fixed-shape rolling KV cache with sink frames, for frame-by-frame autoregressive generation
 * (StreamingLLM's attention sink, LongLive's "frame sink"): per layer, S sink slots keep the
 * first S frames for ever, and a ring of W slots keeps the W most recent frames after them; each
 * frame is T tokens of `width` floats (heads x head dim) of keys and as many of values.
 *
 * The arrays never grow and are written in place (slot by slot), so a graph that reads them sees
 * the same shapes at frame 10 and at frame 10,000,000. Slots are physical; what attention needs is
 * their order: `positions[slot]` is the slot's place in the attended sequence, sinks first, then
 * the window oldest to newest (-1: empty), and the new frame takes `queryPosition()`. Positions
 * are cache-relative, not absolute frame numbers, so frame N is computed exactly as frame S + W:
 * a model with rotary positions stores keys before rotation and rotates them by these positions
 * when it attends (every window slot's position moves down by one each frame once the ring is full).
 *
 * Offline reference: `sinkWindowFrames(n, S, W)`, the absolute frames visible after n frames.
 */

export interface SinkKvCacheOptions {
  layers: number;
  /** S: the first S frames stay for ever (0 allowed: a plain sliding window). */
  sinkFrames: number;
  /** W: the most recent W frames after the sinks (>= 1). */
  windowFrames: number;
  /** T: tokens per frame. */
  tokensPerFrame: number;
  /** Floats per token in each of K and V (heads x head dim). */
  width: number;
}

/** The absolute indices of the frames visible after `n` frames, in attention order: [0, S) and the last W after them. */
export function sinkWindowFrames(n: number, sinkFrames: number, windowFrames: number): number[] {
  const out: number[] = [];
  for (let f = 0; f < Math.min(n, sinkFrames); f++) out.push(f);
  for (let f = Math.max(sinkFrames, n - windowFrames); f < n; f++) out.push(f);
  return out;
}

export class SinkKvCache {
  readonly layers: number;
  readonly sinkFrames: number;
  readonly windowFrames: number;
  readonly tokensPerFrame: number;
  readonly width: number;
  /** S + W. */
  readonly slots: number;
  /** Floats of one frame in one layer: T x width. */
  readonly frameSize: number;
  /** [layers, slots, T, width], written in place. */
  readonly keys: Float32Array;
  readonly values: Float32Array;
  /** Per slot: its place in the attended sequence, or -1 while empty. */
  readonly positions: Int32Array;
  /** Per slot: the absolute frame it holds, or -1 (for tests and logs; a graph never sees it). */
  readonly frameOf: Float64Array;
  private frames = 0;

  constructor(o: SinkKvCacheOptions) {
    for (const k of ['layers', 'windowFrames', 'tokensPerFrame', 'width'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`SinkKvCache: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (!Number.isInteger(o.sinkFrames) || o.sinkFrames < 0) throw new Error(`SinkKvCache: sinkFrames must be a whole number, got ${o.sinkFrames}`);
    this.layers = o.layers;
    this.sinkFrames = o.sinkFrames;
    this.windowFrames = o.windowFrames;
    this.tokensPerFrame = o.tokensPerFrame;
    this.width = o.width;
    this.slots = o.sinkFrames + o.windowFrames;
    this.frameSize = o.tokensPerFrame * o.width;
    this.keys = new Float32Array(o.layers * this.slots * this.frameSize);
    this.values = new Float32Array(this.keys.length);
    this.positions = new Int32Array(this.slots).fill(-1);
    this.frameOf = new Float64Array(this.slots).fill(-1);
  }

  /** Frames pushed since the start (or the last reset). */
  get framesSeen(): number {
    return this.frames;
  }

  /** Slots holding a frame: the new frame's position, and how many positions it attends to before itself. */
  get filled(): number {
    return Math.min(this.frames, this.slots);
  }

  queryPosition(): number {
    return this.filled;
  }

  /** The slot the next pushed frame goes to: the next sink while there are fewer than S frames, else the ring's oldest. */
  nextSlot(): number {
    const f = this.frames;
    return f < this.sinkFrames ? f : this.sinkFrames + ((f - this.sinkFrames) % this.windowFrames);
  }

  /** Offset of (layer, slot) in `keys` / `values`. */
  offset(layer: number, slot: number): number {
    return (layer * this.slots + slot) * this.frameSize;
  }

  /**
   * Stores a new frame's keys and values for every layer ([layers, T, width] each) in the next
   * slot, evicting the ring's oldest frame when it is full; returns the slot.
   */
  push(k: Float32Array, v: Float32Array): number {
    const size = this.layers * this.frameSize;
    if (k.length !== size || v.length !== size) {
      throw new Error(`SinkKvCache.push: expected [layers ${this.layers}, T ${this.tokensPerFrame}, width ${this.width}] = ${size} floats of K and of V, got ${k.length} and ${v.length}`);
    }
    const slot = this.nextSlot();
    for (let l = 0; l < this.layers; l++) this.set(l, slot, k.subarray(l * this.frameSize, (l + 1) * this.frameSize), v.subarray(l * this.frameSize, (l + 1) * this.frameSize));
    return this.advance();
  }

  /**
   * Takes the next slot for a frame whose keys and values are stored elsewhere (a graph that
   * holds the cache as its state and writes the slot itself, so that on a GPU the cache stays in
   * device memory): the bookkeeping of push() without the copy. Returns the slot.
   */
  advance(): number {
    const slot = this.nextSlot();
    this.frameOf[slot] = this.frames;
    this.frames++;
    this.order();
    return slot;
  }

  /** Overwrites one layer's K and V in a slot that holds a frame (a re-cache under new conditioning); positions do not change. */
  write(layer: number, slot: number, k: Float32Array, v: Float32Array): void {
    if (!(Number.isInteger(layer) && layer >= 0 && layer < this.layers)) throw new Error(`SinkKvCache.write: layer ${layer} is not in 0..${this.layers - 1}`);
    if (!(Number.isInteger(slot) && slot >= 0 && slot < this.slots)) throw new Error(`SinkKvCache.write: slot ${slot} is not in 0..${this.slots - 1}`);
    if (this.positions[slot] < 0) throw new Error(`SinkKvCache.write: slot ${slot} holds no frame yet`);
    if (k.length !== this.frameSize || v.length !== this.frameSize) throw new Error(`SinkKvCache.write: expected ${this.frameSize} floats of K and of V, got ${k.length} and ${v.length}`);
    const at = this.offset(layer, slot);
    this.keys.set(k, at);
    this.values.set(v, at);
  }

  private set(layer: number, slot: number, k: Float32Array, v: Float32Array): void {
    const at = this.offset(layer, slot);
    this.keys.set(k, at);
    this.values.set(v, at);
  }

  /** The slots holding frames, in attention order (position 0 first). */
  slotsInOrder(): number[] {
    const out = new Array<number>(this.filled);
    for (let s = 0; s < this.slots; s++) if (this.positions[s] >= 0) out[this.positions[s]] = s;
    return out;
  }

  reset(): void {
    this.keys.fill(0);
    this.values.fill(0);
    this.positions.fill(-1);
    this.frameOf.fill(-1);
    this.frames = 0;
  }

  /** Sinks keep positions 0..S-1; window frame w (the w-th after the sinks) sits at S + w - (oldest w held). */
  private order(): void {
    const S = this.sinkFrames;
    const W = this.windowFrames;
    for (let s = 0; s < Math.min(S, this.frames); s++) this.positions[s] = s;
    const after = this.frames - S;
    if (after <= 0) return;
    const oldest = Math.max(0, after - W);
    for (let w = oldest; w < after; w++) this.positions[S + (w % W)] = S + w - oldest;
  }
}
