/**
 * Flow control between a source that can pause (a file being decoded, a socket) and a bounded
 * queue further down. RxJS has no backpressure, so the two share this object explicitly: the
 * queue calls pause()/resume(), the source listens. Live sources ignore it and rely on the
 * queue's drop policy instead.
 */
export class FlowControl {
  private paused_ = false;
  private readonly listeners = new Set<(paused: boolean) => void>();

  get paused(): boolean {
    return this.paused_;
  }

  pause(): void {
    if (this.paused_) return;
    this.paused_ = true;
    for (const l of this.listeners) l(true);
  }

  resume(): void {
    if (!this.paused_) return;
    this.paused_ = false;
    for (const l of this.listeners) l(false);
  }

  /** Returns the unsubscribe function. */
  onChange(listener: (paused: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
