/**
 * Fixed-size frames every `hop` samples from input chunks of any size.
 *
 * The ring is stored twice over (every sample written at p and p + cap), so any frame is a
 * contiguous run of memory whatever the wrap position. cap is a multiple of hop, hence frames
 * start at only cap/hop distinct offsets, and one view per offset is made up front: a frame
 * costs neither a copy nor an allocation.
 */
export type FrameSink = (frame: Float32Array, index: number) => void;

export class Rechunker {
  readonly frameSize: number;
  readonly hop: number;
  private readonly cap: number;
  private readonly ring: Float32Array;
  private readonly views: Float32Array[];
  private write = 0;
  private view = 0;
  private untilEmit: number;
  private frames = 0;
  /** Samples pushed since the last reset, and the end of the span the emitted frames cover: what flush must still cover. */
  private total = 0;
  private covered = 0;

  constructor(frameSize: number, hop: number) {
    if (!Number.isInteger(frameSize) || frameSize < 1) throw new Error(`Rechunker: frameSize must be a positive integer, got ${frameSize}`);
    if (!Number.isInteger(hop) || hop < 1 || hop > frameSize) {
      throw new Error(`Rechunker: hop must be an integer in [1, frameSize=${frameSize}], got ${hop}`);
    }
    this.frameSize = frameSize;
    this.hop = hop;
    this.cap = Math.ceil(frameSize / hop) * hop;
    this.ring = new Float32Array(2 * this.cap);
    this.views = [];
    for (let s = 0; s < this.cap; s += hop) this.views.push(this.ring.subarray(s, s + frameSize));
    this.untilEmit = frameSize;
  }

  push(input: Float32Array, emit: FrameSink): void {
    const n = input.length;
    this.total += n;
    let i = 0;
    while (i < n) {
      const take = Math.min(this.untilEmit, n - i);
      this.writeFrom(input, i, take);
      i += take;
      this.untilEmit -= take;
      if (this.untilEmit === 0) this.emitFrame(emit);
    }
  }

  /**
   * Ends the stream: zero-pads until every pushed sample has appeared in at least one frame,
   * emitting those frames, then leaves the rechunker as after reset(). No-op when every sample
   * is already covered (including when nothing was pushed).
   */
  flush(emit: FrameSink): void {
    while (this.covered < this.total) {
      this.writeZeros(this.untilEmit);
      this.untilEmit = 0;
      this.emitFrame(emit);
    }
    this.reset();
  }

  reset(): void {
    this.ring.fill(0);
    this.write = 0;
    this.view = 0;
    this.untilEmit = this.frameSize;
    this.frames = 0;
    this.total = 0;
    this.covered = 0;
  }

  private emitFrame(emit: FrameSink): void {
    const frame = this.views[this.view];
    const index = this.frames;
    this.frames++;
    this.covered = index * this.hop + this.frameSize;
    this.view = this.view + 1 === this.views.length ? 0 : this.view + 1;
    this.untilEmit = this.hop;
    emit(frame, index);
  }

  private writeFrom(src: Float32Array, from: number, count: number): void {
    const cap = this.cap;
    let w = this.write;
    // In runs up to the wrap, each copied twice (block copies: a live server rechunks every stream's audio).
    while (count > 0) {
      const n = Math.min(count, cap - w);
      const part = src.subarray(from, from + n);
      this.ring.set(part, w);
      this.ring.set(part, w + cap);
      w += n;
      if (w === cap) w = 0;
      from += n;
      count -= n;
    }
    this.write = w;
  }

  private writeZeros(count: number): void {
    const ring = this.ring;
    const cap = this.cap;
    let w = this.write;
    for (let i = 0; i < count; i++) {
      ring[w] = 0;
      ring[w + cap] = 0;
      if (++w === cap) w = 0;
    }
    this.write = w;
  }
}

/** Frames starting at 0, hop, 2*hop, ... that fit entirely inside x (copies). */
export function frameOffline(x: Float32Array, frameSize: number, hop: number): Float32Array[] {
  const frames: Float32Array[] = [];
  for (let s = 0; s + frameSize <= x.length; s += hop) frames.push(x.slice(s, s + frameSize));
  return frames;
}

/**
 * Back-to-back blocks of `size` samples for a consumer that awaits between blocks (a model run):
 * `push` is a generator that yields the block each time it is full, so the caller's `await`
 * between two yields cannot see the next samples overwrite the block it is working on. Nothing
 * is allocated per block.
 */
export class BlockFiller {
  readonly block: Float32Array;
  /** Samples in the block not yet yielded. */
  fill = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`BlockFiller: size must be a positive integer, got ${size}`);
    this.block = new Float32Array(size);
  }

  *push(input: Float32Array): Generator<Float32Array, void, undefined> {
    let i = 0;
    while (i < input.length) {
      const n = Math.min(this.size - this.fill, input.length - i);
      this.block.set(input.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === this.size) {
        this.fill = 0;
        yield this.block;
      }
    }
  }

  /** The last, partial block zero-padded, with how many of its samples are real (0: nothing left). */
  takePartial(): number {
    const n = this.fill;
    if (n > 0) this.block.fill(0, n);
    this.fill = 0;
    return n;
  }

  reset(): void {
    this.fill = 0;
  }
}
