/** The most recent audio, addressed by absolute sample index; older audio is dropped as told. */
export class AudioTail {
  private readonly buf: Float32Array;
  private base = 0;
  private len = 0;

  constructor(capacity: number) {
    this.buf = new Float32Array(capacity);
  }

  get end(): number {
    return this.base + this.len;
  }

  append(x: Float32Array): void {
    // Sized so that the audio still needed always fits; past that the oldest goes first.
    const over = this.len + x.length - this.buf.length;
    if (over > 0) this.dropBefore(this.base + over);
    this.buf.set(x, this.len);
    this.len += x.length;
  }

  dropBefore(sample: number): void {
    const n = Math.min(this.len, Math.max(0, sample - this.base));
    if (n === 0) return;
    this.buf.copyWithin(0, n, this.len);
    this.base += n;
    this.len -= n;
  }

  /** A copy of [from, to) (clamped to what is kept). */
  slice(from: number, to: number): Float32Array {
    return this.buf.slice(Math.max(from, this.base) - this.base, Math.min(to, this.end) - this.base);
  }
}
