/**
 * Flow control between a source that can pause (a file being decoded, a socket) and the bounded
 * queues further down. RxJS has no backpressure, so the two share this object: each queue holds
 * a pause while it is full, the source listens and stops reading while any queue holds one (two
 * queues on one source must not resume each other's pause).
 *
 * A source that can pause tags every item it emits with its FlowControl (`tagFlow`); `syncMap`
 * and `serialMap` tag their outputs with their input's, so a queue anywhere downstream finds the
 * source's handle on its first item (`flowOf`) and pauses it by default, without the caller
 * wiring anything. Untagged items come from a live source (WebRTC, a realtime input, a Subject):
 * queues then drop the oldest. A WeakMap keeps the tag off the frames themselves (frames stay
 * plain data: deep equality, JSON and spreading are unchanged); user operators that build new
 * objects (`map`) lose it, `tap` and `filter` keep it.
 */
export class FlowControl {
  private readonly holders = new Set<object>();
  private readonly listeners = new Set<(paused: boolean) => void>();

  get paused(): boolean {
    return this.holders.size > 0;
  }

  /** Holds a pause for `holder` (default: one shared anonymous holder). */
  pause(holder: object = ANONYMOUS): void {
    if (this.holders.has(holder)) return;
    const was = this.paused;
    this.holders.add(holder);
    if (!was) this.notify(true);
  }

  /** Releases `holder`'s pause; the source resumes once no holder is left. */
  resume(holder: object = ANONYMOUS): void {
    if (!this.holders.delete(holder)) return;
    if (!this.paused) this.notify(false);
  }

  /** Returns the unsubscribe function. */
  onChange(listener: (paused: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(paused: boolean): void {
    for (const l of this.listeners) l(paused);
  }
}

const ANONYMOUS = {};
const tags = new WeakMap<object, FlowControl>();

/** Marks `item` as coming from a source that `flow` can pause; returns `item`. */
export function tagFlow<T>(item: T, flow: FlowControl | undefined): T {
  if (flow !== undefined && typeof item === 'object' && item !== null) tags.set(item, flow);
  return item;
}

/** The FlowControl of the source `item` came from, if that source can pause. */
export function flowOf(item: unknown): FlowControl | undefined {
  return typeof item === 'object' && item !== null ? tags.get(item) : undefined;
}
