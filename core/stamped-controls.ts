/**
 * Controls (a new position, a command) that arrive beside a stream, applied at a source time:
 * each is stamped with the source time just after the last input sample that had arrived when it
 * came, and a step takes those stamped before the source time it has reached. So where a control
 * lands depends on what had arrived, not on how a work queue happened to run: a control that
 * comes between two frames applies between them whether the worker is idle or 200 frames behind,
 * and frames a live queue drops later do not delay it. Before any input, the stamp is -Infinity
 * (the first step takes it: a starting value).
 */
export class StampedControls<T> {
  private readonly list: { atUs: number; value: T }[] = [];
  private arrivedUs = -Infinity;

  /** Input up to (not including) source time `us` has arrived. */
  arrived(us: number): void {
    if (us > this.arrivedUs) this.arrivedUs = us;
  }

  push(value: T): void {
    this.list.push({ atUs: this.arrivedUs, value });
  }

  /** Applies, in arrival order, every control stamped before `us`; returns how many. */
  take(us: number, apply: (value: T) => void): number {
    let n = 0;
    while (this.list.length > 0 && this.list[0].atUs < us) {
      apply(this.list.shift()!.value);
      n++;
    }
    return n;
  }

  get pending(): number {
    return this.list.length;
  }
}
