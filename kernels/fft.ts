/**
 * Real FFT of power-of-two size n >= 4, computed as one complex FFT of size n/2 on the
 * even/odd samples packed as re/im, followed by a split step that separates the two
 * interleaved real spectra. Arithmetic is float64 throughout (JS numbers are doubles anyway,
 * so Float64Array scratch costs nothing extra and keeps round-off below float32 resolution).
 *
 * Spectrum layout (n + 2 floats): re0, im0, re1, im1, ..., re(n/2), im(n/2); im0 and im(n/2)
 * are always 0 on output and ignored on input.
 */
export class RealFft {
  readonly size: number;
  private readonly half: number;
  private readonly rev: Uint32Array;
  /** Complex-FFT twiddles, stage after stage (stage of span s holds exp(-2πij/s), j < s/2), so each stage reads them contiguously. */
  private readonly stageCos: Float64Array;
  private readonly stageSin: Float64Array;
  /** Split-step twiddles exp(-2πik/n), k <= n/2. */
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 4 || (n & (n - 1)) !== 0) {
      throw new Error(`RealFft: size must be a power of two >= 4, got ${n}`);
    }
    this.size = n;
    const m = n >> 1;
    this.half = m;
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);

    const bits = Math.log2(m);
    this.rev = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.rev[i] = r;
    }

    this.stageCos = new Float64Array(Math.max(1, m - 1));
    this.stageSin = new Float64Array(Math.max(1, m - 1));
    let off = 0;
    for (let span = 2; span <= m; span <<= 1) {
      const h = span >> 1;
      for (let j = 0; j < h; j++) {
        const a = (-2 * Math.PI * j) / span;
        this.stageCos[off + j] = Math.cos(a);
        this.stageSin[off + j] = Math.sin(a);
      }
      off += h;
    }

    this.splitCos = new Float64Array(m + 1);
    this.splitSin = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      const a = (-2 * Math.PI * k) / n;
      this.splitCos[k] = Math.cos(a);
      this.splitSin[k] = Math.sin(a);
    }
  }

  forward(input: Float32Array, out: Float32Array): void {
    const n = this.size;
    const m = this.half;
    if (input.length < n || out.length < n + 2) {
      throw new Error(`RealFft.forward: need input >= ${n} and out >= ${n + 2}, got ${input.length} and ${out.length}`);
    }
    const re = this.re;
    const im = this.im;
    const rev = this.rev;
    for (let i = 0; i < m; i++) {
      const r = rev[i] << 1;
      re[i] = input[r];
      im[i] = input[r + 1];
    }
    this.complexInPlace();

    // Z = FFT(even + i*odd); E[k] = (Z[k] + conj Z[m-k]) / 2, O[k] = (Z[k] - conj Z[m-k]) / 2i,
    // X[k] = E[k] + W^k O[k] with W = exp(-2πi/n); Z[m] wraps to Z[0].
    const c = this.splitCos;
    const s = this.splitSin;
    out[0] = re[0] + im[0];
    out[1] = 0;
    out[2 * m] = re[0] - im[0];
    out[2 * m + 1] = 0;
    for (let k = 1; k < m; k++) {
      const zr = re[k], zi = im[k], yr = re[m - k], yi = im[m - k];
      const er = 0.5 * (zr + yr), ei = 0.5 * (zi - yi);
      const or = 0.5 * (zi + yi), oi = -0.5 * (zr - yr);
      const wr = c[k], wi = s[k];
      out[2 * k] = er + wr * or - wi * oi;
      out[2 * k + 1] = ei + wr * oi + wi * or;
    }
  }

  inverse(spectrum: Float32Array, out: Float32Array): void {
    const n = this.size;
    const m = this.half;
    if (spectrum.length < n + 2 || out.length < n) {
      throw new Error(`RealFft.inverse: need spectrum >= ${n + 2} and out >= ${n}, got ${spectrum.length} and ${out.length}`);
    }
    const re = this.re;
    const im = this.im;
    const rev = this.rev;
    const c = this.splitCos;
    const s = this.splitSin;
    // Undo the split: E[k] = (X[k] + conj X[m-k]) / 2, O[k] = (X[k] - conj X[m-k]) / 2 * W^-k,
    // Z[k] = E[k] + i O[k]. The inverse complex FFT is done as conj(FFT(conj Z)), so the
    // imaginary part is stored negated, directly into bit-reversed order.
    for (let k = 0; k < m; k++) {
      const xr = spectrum[2 * k], xi = k === 0 ? 0 : spectrum[2 * k + 1];
      const yr = spectrum[2 * (m - k)], yi = k === 0 ? 0 : -spectrum[2 * (m - k) + 1];
      const er = 0.5 * (xr + yr), ei = 0.5 * (xi + yi);
      const dr = 0.5 * (xr - yr), di = 0.5 * (xi - yi);
      const wr = c[k], wi = -s[k];
      const or = dr * wr - di * wi, oi = dr * wi + di * wr;
      const j = rev[k];
      re[j] = er - oi;
      im[j] = -(ei + or);
    }
    this.complexInPlace();
    const scale = 1 / m;
    for (let i = 0; i < m; i++) {
      out[2 * i] = re[i] * scale;
      out[2 * i + 1] = -im[i] * scale;
    }
  }

  /**
   * Iterative decimation-in-time on data already in bit-reversed order: radix-2 stages, fused two
   * at a time (spans 2h and 4h in one pass over four points), which halves the passes over the
   * arrays; the second stage's odd twiddle is -i times the even one, so it costs no extra table
   * read. A leftover stage (an odd count) runs alone.
   */
  private complexInPlace(): void {
    const m = this.half;
    const re = this.re;
    const im = this.im;
    // Span 2 has the single twiddle 1: no multiplies.
    for (let i = 0; i < m; i += 2) {
      const ar = re[i], ai = im[i], br = re[i + 1], bi = im[i + 1];
      re[i] = ar + br; im[i] = ai + bi;
      re[i + 1] = ar - br; im[i + 1] = ai - bi;
    }
    const tc = this.stageCos;
    const ts = this.stageSin;
    // Twiddles of span s start at s / 2 - 1 in the tables.
    let h = 2;
    for (; 4 * h <= m; h *= 4) {
      const o1 = h - 1, o2 = 2 * h - 1;
      for (let start = 0; start < m; start += 4 * h) {
        for (let j = 0; j < h; j++) {
          const i0 = start + j, i1 = i0 + h, i2 = i1 + h, i3 = i2 + h;
          // Span 2h: (i0, i1) and (i2, i3) with w1.
          const w1r = tc[o1 + j], w1i = ts[o1 + j];
          let tr = w1r * re[i1] - w1i * im[i1], ti = w1r * im[i1] + w1i * re[i1];
          const a0r = re[i0] + tr, a0i = im[i0] + ti, a1r = re[i0] - tr, a1i = im[i0] - ti;
          tr = w1r * re[i3] - w1i * im[i3];
          ti = w1r * im[i3] + w1i * re[i3];
          const a2r = re[i2] + tr, a2i = im[i2] + ti, a3r = re[i2] - tr, a3i = im[i2] - ti;
          // Span 4h: (i0, i2) with w2, (i1, i3) with -i w2.
          const w2r = tc[o2 + j], w2i = ts[o2 + j];
          const ur = w2r * a2r - w2i * a2i, ui = w2r * a2i + w2i * a2r;
          const qr = w2r * a3r - w2i * a3i, qi = w2r * a3i + w2i * a3r;
          re[i0] = a0r + ur; im[i0] = a0i + ui;
          re[i2] = a0r - ur; im[i2] = a0i - ui;
          re[i1] = a1r + qi; im[i1] = a1i - qr;
          re[i3] = a1r - qi; im[i3] = a1i + qr;
        }
      }
    }
    if (2 * h <= m) {
      const o = h - 1;
      for (let start = 0; start < m; start += 2 * h) {
        for (let j = 0; j < h; j++) {
          const a = start + j, b = a + h;
          const wr = tc[o + j], wi = ts[o + j];
          const br = re[b], bi = im[b];
          const tr = wr * br - wi * bi;
          const ti = wr * bi + wi * br;
          const ar = re[a], ai = im[a];
          re[b] = ar - tr; im[b] = ai - ti;
          re[a] = ar + tr; im[a] = ai + ti;
        }
      }
    }
  }
}

/** Naive O(n^2) DFT in float64, same layout as RealFft.forward; any length n >= 1. */
export function dftOffline(x: Float32Array): Float32Array {
  const n = x.length;
  const bins = Math.floor(n / 2) + 1;
  // Angles are taken from an exact table indexed by (k*t) mod n, so the reference does not
  // accumulate phase error from huge k*t products.
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / n);
    sin[i] = Math.sin((2 * Math.PI * i) / n);
  }
  const out = new Float32Array(2 * bins);
  for (let k = 0; k < bins; k++) {
    let sr = 0, si = 0, idx = 0;
    for (let t = 0; t < n; t++) {
      sr += x[t] * cos[idx];
      si -= x[t] * sin[idx];
      idx += k;
      if (idx >= n) idx -= n;
    }
    out[2 * k] = sr;
    out[2 * k + 1] = si;
  }
  return out;
}
