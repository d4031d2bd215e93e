import assert from 'node:assert/strict';
import { RealFft, dftOffline } from '../../kernels/fft.js';
import { makeWindow } from '../../kernels/window.js';
import { maxAbsDiff, randomSignal, rng } from '../helpers-random.js';

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

describe('kernels/window', () => {
  it('makes periodic hann, sqrt-hann and rect windows', () => {
    const n = 16;
    const h = makeWindow('hann', n);
    assert.equal(h[0], 0);
    assert.ok(Math.abs(h[n / 2] - 1) < 1e-7);
    for (let i = 1; i < n; i++) assert.ok(Math.abs(h[i] - h[n - i]) < 1e-7, `periodic symmetry at ${i}`);
    const s = makeWindow('sqrt-hann', n);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(s[i] * s[i] - h[i]) < 1e-6);
    assert.deepEqual(Array.from(makeWindow('rect', 4)), [1, 1, 1, 1]);
    // Periodic hann overlaps to a constant at hop n/4 (the property STFT reconstruction relies on).
    for (let j = 0; j < n / 4; j++) {
      const sum = h[j] + h[j + n / 4] + h[j + n / 2] + h[j + (3 * n) / 4];
      assert.ok(Math.abs(sum - 2) < 1e-6);
    }
  });
});

describe('kernels/fft', () => {
  it('rejects sizes that are not powers of two >= 4', () => {
    for (const n of [0, 1, 2, 3, 6, 1000, 1.5]) assert.throws(() => new RealFft(n), /power of two/);
  });

  it('matches the naive DFT for n = 4 .. 4096', () => {
    const rand = rng(101);
    for (const n of [4, 8, 16, 32, 256, 512, 1024, 2048, 4096]) {
      const fft = new RealFft(n);
      assert.equal(fft.size, n);
      for (let trial = 0; trial < 2; trial++) {
        const x = randomSignal(n, rand);
        const out = new Float32Array(n + 2);
        fft.forward(x, out);
        const ref = dftOffline(x);
        const rel = maxAbsDiff(out, ref) / maxAbs(ref);
        assert.ok(rel < 2e-7 * Math.log2(n), `n=${n}: relative error ${rel}`);
      }
    }
  });

  it('puts a cosine in its bin and an impulse everywhere', () => {
    const n = 64;
    const fft = new RealFft(n);
    const out = new Float32Array(n + 2);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.cos((2 * Math.PI * 5 * i) / n);
    fft.forward(x, out);
    for (let k = 0; k <= n / 2; k++) {
      const want = k === 5 ? n / 2 : 0;
      assert.ok(Math.abs(out[2 * k] - want) < 1e-4 && Math.abs(out[2 * k + 1]) < 1e-4, `bin ${k}`);
    }
    x.fill(0);
    x[0] = 1;
    fft.forward(x, out);
    for (let k = 0; k <= n / 2; k++) assert.ok(Math.abs(out[2 * k] - 1) < 1e-7 && Math.abs(out[2 * k + 1]) < 1e-7);
  });

  it('inverts its own forward transform and the naive DFT', () => {
    const rand = rng(202);
    for (const n of [4, 8, 256, 1024, 4096]) {
      const fft = new RealFft(n);
      const x = randomSignal(n, rand);
      const spec = new Float32Array(n + 2);
      const back = new Float32Array(n);
      fft.forward(x, spec);
      fft.inverse(spec, back);
      assert.ok(maxAbsDiff(back, x) < 1e-6, `n=${n}: round trip ${maxAbsDiff(back, x)}`);
      fft.inverse(dftOffline(x), back);
      assert.ok(maxAbsDiff(back, x) < 1e-6, `n=${n}: inverse of DFT ${maxAbsDiff(back, x)}`);
    }
  });

  it('ignores the imaginary parts of DC and Nyquist on inverse', () => {
    const n = 16;
    const fft = new RealFft(n);
    const x = randomSignal(n, rng(7));
    const spec = new Float32Array(n + 2);
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    fft.forward(x, spec);
    fft.inverse(spec, a);
    spec[1] = 3;
    spec[n + 1] = -2;
    fft.inverse(spec, b);
    assert.ok(maxAbsDiff(a, b) === 0);
  });
});
