/**
 * Centred framing with edges (CentredFramer; used by the NeMo front end, nemo-mel.ts, and by fbank.ts).
 * Frame m covers x[m*hop - offset, m*hop - offset + frameLength): frames are placed relative to
 * the signal, not to a padded copy of it. Indices s outside [0, n) take their value from the
 * edge rule (n = samples known):
 *   zeros:     x[s] = 0                                     (torch.stft pad_mode='constant')
 *   reflect:   x[-s] = x[s], x[n-1+s] = x[n-1-s]            (edge not repeated: torch/numpy 'reflect'),
 *              period 2(n-1), and x[s] = x[0] when n = 1
 *   symmetric: x[-1-s] = x[s], x[n+s] = x[n-1-s]            (edge repeated: Kaldi snip_edges=false),
 *              period 2n
 * Reflection is applied repeatedly (modulo the period) when a frame reaches further than n
 * samples past an edge; torch refuses such short inputs, Kaldi loops exactly like this.
 * Streaming: frame m is emitted as soon as every true sample it reads has arrived:
 *   readyAt(m) = max(m*hop - offset + frameLength, leftNeed),
 *   leftNeed = offset + 1 (reflect), offset (symmetric), 0 (zeros): what frame 0 reads by mirroring
 *   (frames go out in order, and later frames mirror less),
 * so the left edge is causal: its values are either zeros or samples that the frame itself
 * already waits for (plus one sample for 'reflect' at most). The right edge exists only at
 * flush, where the stream length n is finally known: flush emits frames up to a frame count
 * that the caller derives from n (each front end has its own rule), reading past n by the edge
 * rule. Nothing is ever padded per chunk, so chunking cannot change a frame.
 *
 */
import type { FrameSink } from './rechunker.js';

export type EdgeMode = 'zeros' | 'reflect' | 'symmetric';

/** Where sample s of an n-sample signal comes from under an edge rule: an index in [0, n), or -1 for a zero. */
export function edgeIndex(s: number, n: number, mode: EdgeMode): number {
  if (s >= 0 && s < n) return s;
  if (mode === 'zeros' || n === 0) return -1;
  if (mode === 'reflect') {
    if (n === 1) return 0;
    const p = 2 * (n - 1);
    const r = ((s % p) + p) % p;
    return r < n ? r : p - r;
  }
  const p = 2 * n;
  const r = ((s % p) + p) % p;
  return r < n ? r : p - 1 - r;
}

/**
 * Frames of frameLength samples every hop samples, frame m starting at m*hop - offset, with
 * edges by rule; see the file comment for readyAt and flush. The history is a linear buffer
 * compacted (copyWithin) when full, so each sample is copied O(1) times amortised and a frame
 * costs one copy of frameLength samples into the reused frame buffer.
 */
export class CentredFramer {
  readonly frameLength: number;
  readonly hop: number;
  readonly offset: number;
  readonly edge: EdgeMode;
  private readonly buf: Float32Array;
  /** Samples kept when compacting: every frame still to come reads no further back than this. */
  private readonly keep: number;
  private readonly frame: Float32Array;
  /** Absolute index of buf[0]; samples [base, pushed) are in buf[0, pushed - base). */
  private base = 0;
  private pushed = 0;
  private next = 0;
  private nextReady: number;

  constructor(frameLength: number, hop: number, offset: number, edge: EdgeMode) {
    if (!Number.isInteger(frameLength) || frameLength < 1) throw new Error(`CentredFramer: frameLength must be a positive integer, got ${frameLength}`);
    if (!Number.isInteger(hop) || hop < 1) throw new Error(`CentredFramer: hop must be a positive integer, got ${hop}`);
    if (!Number.isInteger(offset) || offset < 0 || offset > frameLength) {
      throw new Error(`CentredFramer: offset must be an integer in [0, frameLength=${frameLength}], got ${offset}`);
    }
    this.frameLength = frameLength;
    this.hop = hop;
    this.offset = offset;
    this.edge = edge;
    this.keep = frameLength + hop;
    // Large enough that frames needing the left edge are all emitted before the first compaction.
    this.buf = new Float32Array(2 * (frameLength + hop + offset) + 2);
    this.frame = new Float32Array(frameLength);
    this.nextReady = this.readyAt(0);
  }

  /**
   * Samples that must have been pushed before frame m is emitted: its end, and what frame 0 reads
   * from mirrored samples (frames go out in order, and frame 0 reaches furthest into the signal).
   */
  readyAt(m: number): number {
    const end = m * this.hop - this.offset + this.frameLength;
    const left = this.edge === 'reflect' ? this.offset + 1 : this.edge === 'symmetric' ? this.offset : 0;
    return Math.max(end, left);
  }

  /** Frames emitted so far. */
  get emitted(): number {
    return this.next;
  }

  /** Samples pushed so far. */
  get length(): number {
    return this.pushed;
  }

  /** Pushes input[from, to) (default: all of it); no allocation. */
  push(input: Float32Array, emit: FrameSink, from = 0, to = input.length): void {
    const n = to;
    let i = from;
    while (i < n) {
      const take = Math.min(this.nextReady - this.pushed, n - i);
      this.append(input, i, take);
      i += take;
      while (this.pushed >= this.nextReady) {
        this.emitFrame(this.next, emit);
        this.next++;
        this.nextReady = this.readyAt(this.next);
      }
    }
  }

  /** Emits frames emitted..count-1, reading past the end by the edge rule, then resets. */
  flush(count: number, emit: FrameSink): void {
    if (this.next > count) throw new Error(`CentredFramer.flush: ${this.next} frames already emitted, but the stream has only ${count}`);
    for (; this.next < count; this.next++) this.emitFrame(this.next, emit);
    this.reset();
  }

  reset(): void {
    this.base = 0;
    this.pushed = 0;
    this.next = 0;
    this.nextReady = this.readyAt(0);
  }

  private append(src: Float32Array, from: number, count: number): void {
    const buf = this.buf;
    while (count > 0) {
      let used = this.pushed - this.base;
      if (used === buf.length) {
        buf.copyWithin(0, used - this.keep, used);
        this.base += used - this.keep;
        used = this.keep;
      }
      const take = Math.min(count, buf.length - used);
      for (let i = 0; i < take; i++) buf[used + i] = src[from + i];
      this.pushed += take;
      from += take;
      count -= take;
    }
  }

  private emitFrame(m: number, emit: FrameSink): void {
    const len = this.frameLength;
    const n = this.pushed;
    const start = m * this.hop - this.offset;
    const buf = this.buf;
    const base = this.base;
    const f = this.frame;
    if (start >= base && start + len <= n) {
      const at = start - base;
      for (let i = 0; i < len; i++) f[i] = buf[at + i];
    } else {
      for (let i = 0; i < len; i++) {
        const s = edgeIndex(start + i, n, this.edge);
        if (s < 0) {
          f[i] = 0;
          continue;
        }
        if (s < base) throw new Error(`CentredFramer: sample ${s} was already dropped (internal error)`);
        f[i] = buf[s - base];
      }
    }
    emit(f, m);
  }
}
