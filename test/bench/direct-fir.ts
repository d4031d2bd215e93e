/**
 * The direct-form FIR baseline of the benchmarks: out[offset + stride * t] = sum_k h[k] x[t - k]
 * for every t of x (zero history), with 4 partial sums so the baseline is not held back by one
 * long dependency chain.
 */
export function directFir(x: Float32Array, h: Float32Array, out: Float32Array, stride = 1, offset = 0): void {
  const n = h.length;
  for (let t = 0; t < x.length; t++) {
    const kMax = Math.min(n - 1, t);
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let k = 0;
    for (; k + 3 <= kMax; k += 4) {
      a0 += h[k] * x[t - k];
      a1 += h[k + 1] * x[t - k - 1];
      a2 += h[k + 2] * x[t - k - 2];
      a3 += h[k + 3] * x[t - k - 3];
    }
    for (; k <= kMax; k++) a0 += h[k] * x[t - k];
    out[offset + stride * t] = a0 + a1 + a2 + a3;
  }
}
