/**
 * Analysis/synthesis windows. All are periodic (DFT-even: w[i] = f(i / n), not f(i / (n - 1)))
 * because overlap-add reconstruction and the STFT of a stationary tone are exact only with the
 * periodic form; the symmetric form is for FIR design, which lives in kaiser.ts.
 */
export type WindowKind = 'hann' | 'sqrt-hann' | 'rect';

export function makeWindow(kind: WindowKind, n: number): Float32Array {
  if (!Number.isInteger(n) || n < 1) throw new Error(`makeWindow: length must be a positive integer, got ${n}`);
  const w = new Float32Array(n);
  switch (kind) {
    case 'rect':
      w.fill(1);
      return w;
    case 'hann':
    case 'sqrt-hann': {
      const root = kind === 'sqrt-hann';
      for (let i = 0; i < n; i++) {
        const v = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
        w[i] = root ? Math.sqrt(v) : v;
      }
      return w;
    }
    default:
      throw new Error(`makeWindow: unknown window kind '${String(kind)}'`);
  }
}
