/** RTP's wrapping counters (16-bit sequence numbers, 32-bit timestamps) as plain increasing numbers. */

/** Extends a wrapping counter of `bits` bits to a monotonic-ish number, relative to the highest seen. */
export class Unwrapper {
  private highest: number | undefined;
  constructor(private readonly bits: 16 | 32) {}
  unwrap(v: number): number {
    const range = 2 ** this.bits;
    if (this.highest === undefined) {
      this.highest = v;
      return v;
    }
    let delta = (v - (this.highest % range)) % range;
    if (delta < 0) delta += range;
    if (delta >= range / 2) delta -= range;
    const ext = this.highest + delta;
    if (ext > this.highest) this.highest = ext;
    return ext;
  }
}
