/** Test signals for the WebRTC tests: sines, and how much of a signal a given tone explains. */

/** `n` samples of amp*sin(2π f t) starting at sample `start`, interleaved over `channels` (same on each). */
export function sine(freq: number, start: number, n: number, amp = 0.5, rate = 48000, channels = 1): Float32Array {
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    const v = amp * Math.sin((2 * Math.PI * freq * (start + i)) / rate);
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

/**
 * Fraction of the signal's energy explained by the best-fitting sinusoid at `freq` (least squares
 * on sin and cos, so any phase and codec delay fits). 1 = a pure tone at freq, ~0 = something else.
 * With a single phase for the whole signal, a piece placed at the wrong time lowers it.
 */
export function toneFit(x: Float32Array, freq: number, rate = 48000): number {
  let ss = 0;
  let cc = 0;
  let sc = 0;
  let xs = 0;
  let xc = 0;
  let xx = 0;
  for (let i = 0; i < x.length; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    const s = Math.sin(w);
    const c = Math.cos(w);
    ss += s * s;
    cc += c * c;
    sc += s * c;
    xs += x[i] * s;
    xc += x[i] * c;
    xx += x[i] * x[i];
  }
  if (xx === 0) return 0;
  const det = ss * cc - sc * sc;
  const a = (xs * cc - xc * sc) / det;
  const b = (xc * ss - xs * sc) / det;
  return (a * xs + b * xc) / xx;
}

/** One channel of interleaved audio. */
export function channel(x: Float32Array, channels: number, c: number): Float32Array {
  const out = new Float32Array(x.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = x[i * channels + c];
  return out;
}

export function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}
