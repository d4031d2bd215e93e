/**
 * A kernel's reusable output: one growable array, and a view of its first `len` values made once
 * per length, so steady-state pushes allocate nothing. Results share the memory: one is valid
 * until the kernel's next call.
 */
export class OutputBuffer {
  private buf: Float32Array;
  private views: (Float32Array | undefined)[] = [];

  constructor(initialLength: number) {
    this.buf = new Float32Array(initialLength);
  }

  /** The whole array, grown to at least `n` (dropping the old views) when it is shorter. */
  ensure(n: number): Float32Array {
    if (this.buf.length < n) {
      this.buf = new Float32Array(n);
      this.views = [];
    }
    return this.buf;
  }

  get data(): Float32Array {
    return this.buf;
  }

  /** The first `len` values. */
  view(len: number): Float32Array {
    let v = this.views[len];
    if (v === undefined) {
      v = this.buf.subarray(0, len);
      this.views[len] = v;
    }
    return v;
  }
}
