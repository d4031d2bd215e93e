/**
 * The reorder buffer both RTP receivers use (rtp-audio-receiver.ts says why not werift's):
 * packets go back in sequence order; a missing one is waited for at most `windowMs` (or until
 * the receiver says it is overdue, or more than `maxHeld` packets wait), then skipped and
 * reported lost. Waiting happens only while a packet is missing, so in-order packets pass with
 * no added delay. A sequence number far behind the expected one is a sender that renumbered,
 * not a late packet: the receiver starts a new stream.
 */
import { Unwrapper } from './rtp-unwrap.js';

/** The counters the buffer keeps in its receiver's stats. */
export interface ReorderStats {
  packetsLate: number;
  packetsReordered: number;
  resyncs: number;
}

export interface ReorderOptions {
  /** Longest wait for a missing packet before the held ones are flushed past it. */
  windowMs: number;
  /** More held packets than this and the gap is skipped at once. */
  maxHeld: number;
  /** Packets this far behind the next expected one mean a renumbered stream. */
  maxLate: number;
  stats: ReorderStats;
  /** Called when a gap has waited `windowMs` (the receiver flushes: the sender may have stopped right after a loss). */
  onTimeout: () => void;
}

export interface DrainTarget<P> {
  /** The next packet in sequence order. */
  emit(p: P): void;
  /** `count` packets were skipped as lost. */
  lost(count: number): void;
  /** Whether the gap may be skipped now, before the window ends (default: only when forced). */
  overdue?(): boolean;
  /** True once the receiver was disposed (emit runs subscriber code, which may close it). */
  stopped(): boolean;
}

export class RtpReorder<P> {
  private seq = new Unwrapper(16);
  private nextSeq: number | undefined;
  private readonly held = new Map<number, P>();
  private gapTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ReorderOptions) {}

  get size(): number {
    return this.held.size;
  }

  /** Whether a stream is under way (a packet was taken since the last restart). */
  get started(): boolean {
    return this.nextSeq !== undefined;
  }

  /** The packets held are more than the bound: the caller drains with force. */
  get overfull(): boolean {
    return this.held.size > this.o.maxHeld;
  }

  /**
   * The extended sequence number of an RTP sequence number; when it is far behind the expected
   * one, `restart` is called first (the receiver drains and starts a new stream) and it counts
   * as a resync.
   */
  sequence(sequenceNumber: number, restart: () => void): number {
    const seq = this.seq.unwrap(sequenceNumber);
    if (this.nextSeq === undefined || seq >= this.nextSeq - this.o.maxLate) return seq;
    this.o.stats.resyncs++;
    restart();
    return this.seq.unwrap(sequenceNumber);
  }

  /** Holds a packet; false (counted late) for a duplicate or one whose gap was already skipped. */
  hold(seq: number, packet: P): boolean {
    if (this.nextSeq === undefined) this.nextSeq = seq;
    if (seq < this.nextSeq || this.held.has(seq)) {
      this.o.stats.packetsLate++;
      return false;
    }
    if (this.held.size > 0 && seq < this.highestHeld()) this.o.stats.packetsReordered++;
    this.held.set(seq, packet);
    return true;
  }

  /** Emits in sequence order; skips a missing packet when forced or overdue. */
  drain(force: boolean, to: DrainTarget<P>): void {
    for (;;) {
      while (this.nextSeq !== undefined && this.held.has(this.nextSeq)) {
        if (to.stopped()) return;
        const p = this.held.get(this.nextSeq)!;
        this.held.delete(this.nextSeq);
        this.nextSeq++;
        to.emit(p);
      }
      if (this.held.size === 0) break;
      if (!force && !(to.overdue?.() ?? false)) break;
      let first = Infinity;
      for (const s of this.held.keys()) if (s < first) first = s;
      to.lost(first - this.nextSeq!);
      this.nextSeq = first;
    }
    if (this.held.size === 0) this.clearTimer();
    else if (this.gapTimer === undefined && !to.stopped()) {
      this.gapTimer = setTimeout(() => {
        this.gapTimer = undefined;
        this.o.onTimeout();
      }, this.o.windowMs);
      this.gapTimer.unref();
    }
  }

  /** A new stream (new SSRC, or renumbered): sequence numbers start over. Drain first. */
  restart(): void {
    this.seq = new Unwrapper(16);
    this.nextSeq = undefined;
  }

  dispose(): void {
    this.clearTimer();
    this.held.clear();
  }

  private highestHeld(): number {
    let h = -Infinity;
    for (const s of this.held.keys()) if (s > h) h = s;
    return h;
  }

  private clearTimer(): void {
    if (this.gapTimer !== undefined) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }
}
