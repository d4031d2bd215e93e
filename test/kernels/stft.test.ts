import assert from 'node:assert/strict';
import { dftOffline } from '../../kernels/fft.js';
import { StreamingIstft, StreamingStft, istftOffline, stftOffline, type StftOptions } from '../../kernels/stft.js';
import { makeWindow } from '../../kernels/window.js';
import { maxAbsDiff, randomSignal, rng } from '../helpers-random.js';
import { chunkings, concat, feed } from './chunking.js';

function streamStft(o: StftOptions, x: Float32Array, sizes: number[], flush = false): Float32Array[] {
  const s = new StreamingStft(o);
  const frames: Float32Array[] = [];
  const sink = (spec: Float32Array, k: number): void => {
    assert.equal(k, frames.length);
    assert.equal(spec.length, 2 * s.bins);
    frames.push(spec.slice());
  };
  feed(x, sizes, (c) => s.push(c, sink));
  if (flush) s.flush(sink);
  return frames;
}

function streamIstft(o: StftOptions, frames: Float32Array[]): Float32Array {
  const inv = new StreamingIstft(o);
  return concat(frames.map((f) => {
    const y = inv.push(f);
    assert.equal(y.length, o.hop);
    return y.slice();
  }));
}

function maxSpecDiff(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, f, i) => Math.max(m, maxAbsDiff(f, b[i])), 0);
}

const configs: StftOptions[] = [
  { nFft: 512, hop: 128 },
  { nFft: 1024, hop: 256 },
  { nFft: 512, hop: 256 },
  { nFft: 512, hop: 128, window: 'sqrt-hann' },
  { nFft: 512, hop: 256, window: 'sqrt-hann' },
  { nFft: 256, hop: 256, window: 'rect' },
  { nFft: 256, hop: 96 },
];

describe('kernels/stft', () => {
  it('offline frame k is the DFT of the windowed, left-padded signal at k*hop', () => {
    const o = { nFft: 64, hop: 16 };
    const x = randomSignal(200, rng(1));
    const frames = stftOffline(x, o);
    const pad = o.nFft - o.hop;
    assert.equal(frames.length, Math.floor((x.length + pad - o.nFft) / o.hop) + 1);
    const w = makeWindow('hann', o.nFft);
    for (const k of [0, 1, 5, frames.length - 1]) {
      const seg = new Float32Array(o.nFft);
      for (let i = 0; i < o.nFft; i++) {
        const t = k * o.hop + i - pad;
        seg[i] = t >= 0 ? x[t] * w[i] : 0;
      }
      assert.ok(maxAbsDiff(frames[k], dftOffline(seg)) < 1e-5, `frame ${k}`);
    }
  });

  it('streaming STFT equals stftOffline for random signals and chunkings', () => {
    const rand = rng(21);
    for (const o of configs) {
      for (let s = 0; s < 2; s++) {
        const x = randomSignal(1000 + Math.floor(rand() * 4000), rand);
        const want = stftOffline(x, o);
        for (const sizes of chunkings(x.length, rand, o.nFft)) {
          const got = streamStft(o, x, sizes);
          assert.ok(maxSpecDiff(got, want) < 1e-5, `${JSON.stringify(o)}`);
        }
      }
    }
  });

  it('emits frame k exactly when sample (k+1)*hop - 1 arrives (declared latency nFft - hop)', () => {
    const o = { nFft: 256, hop: 64 };
    const s = new StreamingStft(o);
    assert.equal(s.latency, 192);
    assert.equal(s.bins, 129);
    const one = new Float32Array(1);
    const emittedAt: number[] = [];
    for (let t = 0; t < 1000; t++) s.push(one, () => emittedAt.push(t));
    emittedAt.forEach((t, k) => assert.equal(t, (k + 1) * o.hop - 1));
    assert.equal(emittedAt.length, Math.floor(1000 / o.hop));
  });

  it('ISTFT(STFT(x)) is x delayed by exactly nFft - hop, for any chunking', () => {
    const rand = rng(22);
    for (const o of configs) {
      const x = randomSignal(6000, rand);
      const lat = o.nFft - o.hop;
      for (const sizes of chunkings(x.length, rand, o.nFft).slice(0, 2)) {
        const y = streamIstft(o, streamStft(o, x, sizes));
        assert.equal(new StreamingIstft(o).latency, lat);
        let err = 0;
        for (let t = lat; t < y.length; t++) err = Math.max(err, Math.abs(y[t] - x[t - lat]));
        assert.ok(err <= 1e-5, `${JSON.stringify(o)}: error ${err}`);
        for (let t = 0; t < lat; t++) assert.ok(Math.abs(y[t]) <= 1e-6, 'the padding region reconstructs as zeros');
        // One sample off in either direction is badly wrong: the alignment really is nFft - hop.
        for (const off of [-1, 1]) {
          let e = 0;
          for (let t = lat + 1; t < y.length - 1; t++) e = Math.max(e, Math.abs(y[t] - x[t - lat + off]));
          assert.ok(e > 0.1, `misaligned by ${off} still matches`);
        }
      }
    }
  });

  it('flush drains the STFT so the inverse returns all of x', () => {
    const rand = rng(23);
    for (const o of configs.slice(0, 4)) {
      for (const n of [1, 100, 1001, 3000]) {
        const x = randomSignal(n, rand);
        const y = streamIstft(o, streamStft(o, x, chunkings(n, rand, o.nFft)[0], true));
        const lat = o.nFft - o.hop;
        assert.ok(y.length >= n + lat && y.length < n + lat + o.hop, `length ${y.length} for n ${n}`);
        let err = 0;
        for (let t = 0; t < n; t++) err = Math.max(err, Math.abs(y[t + lat] - x[t]));
        assert.ok(err <= 1e-5, `${JSON.stringify(o)} n=${n}: error ${err}`);
      }
    }
  });

  it('streaming ISTFT equals istftOffline on arbitrary spectra', () => {
    const rand = rng(24);
    for (const o of configs) {
      const frames = Array.from({ length: 40 }, () => randomSignal(o.nFft + 2, rand));
      const want = istftOffline(frames, o);
      const got = streamIstft(o, frames);
      assert.equal(got.length, frames.length * o.hop);
      assert.ok(maxAbsDiff(got, want) < 1e-6);
    }
  });

  it('reset returns both directions to their initial state', () => {
    const o = { nFft: 256, hop: 64 };
    const rand = rng(25);
    const x = randomSignal(2000, rand);
    const s = new StreamingStft(o);
    s.push(randomSignal(333, rand), () => {});
    s.reset();
    const got: Float32Array[] = [];
    s.push(x, (f) => got.push(f.slice()));
    assert.ok(maxSpecDiff(got, stftOffline(x, o)) < 1e-5);
    const inv = new StreamingIstft(o);
    inv.push(randomSignal(o.nFft + 2, rand));
    inv.reset();
    const first = inv.push(got[0]).slice();
    assert.ok(maxAbsDiff(first, istftOffline([got[0]], o)) < 1e-6);
  });

  it('refuses window/hop pairs that fail NOLA', () => {
    assert.throws(() => new StreamingIstft({ nFft: 256, hop: 256 }), /NOLA/);
    assert.throws(() => new StreamingIstft({ nFft: 256, hop: 256, window: 'sqrt-hann' }), /NOLA/);
    assert.throws(() => istftOffline([], { nFft: 256, hop: 255 }), /NOLA/);
    assert.doesNotThrow(() => new StreamingIstft({ nFft: 256, hop: 256, window: 'rect' }));
    assert.throws(() => new StreamingStft({ nFft: 300, hop: 100 }), /power of two/);
    assert.throws(() => new StreamingStft({ nFft: 256, hop: 300 }), /hop/);
  });
});
