/**
 * Kaiser-window FIR low-pass design (Kaiser's empirical formulas, as in Oppenheim & Schafer
 * §7.6). Used by the resampler; kept apart so other kernels can design filters the same way.
 */

/** Modified Bessel function of the first kind, order 0, by its power series (converges for every x; Kaiser betas stay below ~20). */
export function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser beta for a stop-band attenuation of `attenuationDb`. */
export function kaiserBeta(attenuationDb: number): number {
  const a = attenuationDb;
  if (a > 50) return 0.1102 * (a - 8.7);
  if (a >= 21) return 0.5842 * Math.pow(a - 21, 0.4) + 0.07886 * (a - 21);
  return 0;
}

/**
 * Odd tap count reaching `attenuationDb` over a transition of `transition` cycles/sample
 * (a fraction of the sampling rate). Odd, so the filter has an integer centre tap and its
 * group delay is a whole number of samples at the rate it runs at.
 */
export function kaiserLength(attenuationDb: number, transition: number): number {
  const n = Math.ceil((attenuationDb - 7.95) / (2.285 * 2 * Math.PI * transition)) + 1;
  const atLeast3 = Math.max(3, n);
  return atLeast3 % 2 === 1 ? atLeast3 : atLeast3 + 1;
}

/**
 * Windowed-sinc low-pass: `taps` coefficients, cutoff `cutoff` cycles/sample (-6 dB point),
 * Kaiser window of parameter `beta`, scaled so the coefficients sum to `gain` (exact DC gain).
 */
export function kaiserLowpass(taps: number, cutoff: number, beta: number, gain: number): Float64Array {
  if (!Number.isInteger(taps) || taps < 1) throw new Error(`kaiserLowpass: taps must be a positive integer, got ${taps}`);
  if (!(cutoff > 0 && cutoff <= 0.5)) throw new Error(`kaiserLowpass: cutoff must be in (0, 0.5] cycles/sample, got ${cutoff}`);
  const h = new Float64Array(taps);
  const mid = (taps - 1) / 2;
  const norm = besselI0(beta);
  let sum = 0;
  for (let k = 0; k < taps; k++) {
    const t = k - mid;
    const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
    const r = mid === 0 ? 0 : t / mid;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / norm;
    h[k] = sinc * w;
    sum += h[k];
  }
  const scale = gain / sum;
  for (let k = 0; k < taps; k++) h[k] *= scale;
  return h;
}
