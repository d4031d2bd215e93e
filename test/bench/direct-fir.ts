/**
 * The direct-form FIR baselines of the benchmarks, with 4 partial sums so a baseline is not held
 * back by one long dependency chain (the kernels' own dot products use the same trick).
 */

/** sum_k h[k] x[t - k] over the taps that reach x (zero history before x[0]). */
function firAt(x: Float32Array, h: Float32Array, t: number): number {
  const kMax = Math.min(h.length - 1, t);
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  let k = 0;
  for (; k + 3 <= kMax; k += 4) {
    a0 += h[k] * x[t - k];
    a1 += h[k + 1] * x[t - k - 1];
    a2 += h[k + 2] * x[t - k - 2];
    a3 += h[k + 3] * x[t - k - 3];
  }
  for (; k <= kMax; k++) a0 += h[k] * x[t - k];
  return a0 + a1 + a2 + a3;
}

/** out[offset + stride * t] = sum_k h[k] x[t - k] for every t of x. */
export function directFir(x: Float32Array, h: Float32Array, out: Float32Array, stride = 1, offset = 0): void {
  for (let t = 0; t < x.length; t++) out[offset + stride * t] = firAt(x, h, t);
}

/** out[j] = sum_k h[k] x[j * down - k]: only the outputs a decimator keeps are computed. Returns their count. */
export function decimatingFir(x: Float32Array, h: Float32Array, down: number, out: Float32Array): number {
  let j = 0;
  for (let t = 0; t < x.length; t += down) out[j++] = firAt(x, h, t);
  return j;
}
