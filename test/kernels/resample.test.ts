import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { RealFft } from '../../kernels/fft.js';
import { Resampler, resampleOffline, upfirdn, type ResamplerOptions } from '../../kernels/resample.js';
import { makeWindow } from '../../kernels/window.js';
import { maxAbsDiff, randomSignal, rng } from '../helpers-random.js';
import { chunkings, concat, feed, rms, tone } from './chunking.js';

function stream(r: Resampler, x: Float32Array, sizes: number[], flush = true): Float32Array {
  const parts: Float32Array[] = [];
  feed(x, sizes, (c) => parts.push(r.push(c).slice()));
  if (flush) parts.push(r.flush().slice());
  return concat(parts);
}

const ratios: [number, number, number, number][] = [
  // from, to, expected up, expected down
  [48000, 16000, 1, 3],
  [44100, 16000, 160, 441],
  [16000, 48000, 3, 1],
  [8000, 16000, 2, 1],
  [16000, 16000, 1, 1],
];

describe('kernels/resample', () => {
  it('reduces the ratio by the gcd and designs a symmetric low-pass of DC gain up', () => {
    for (const [from, to, up, down] of ratios) {
      const r = new Resampler({ fromRate: from, toRate: to });
      assert.equal(r.up, up, `${from}->${to} up`);
      assert.equal(r.down, down, `${from}->${to} down`);
      const h = r.filter;
      assert.equal(h.length % 2, 1);
      let sum = 0;
      for (let i = 0; i < h.length; i++) {
        sum += h[i];
        assert.ok(Math.abs(h[i] - h[h.length - 1 - i]) < 1e-7, 'linear phase');
      }
      assert.ok(Math.abs(sum - up) < 1e-4 * up, `DC gain ${sum}`);
      assert.equal(r.delay, (h.length - 1) / (2 * down));
    }
  });

  it('upfirdn is upsample-filter-downsample', () => {
    // Tiny case worked by hand: x = [1, 2], up 2 -> [1, 0, 2, 0]; * h = [1, 1, 1] -> [1, 1, 3, 2, 2]; down 2 -> [1, 3, 2].
    assert.deepEqual(Array.from(upfirdn(new Float32Array([1, 2]), new Float32Array([1, 1, 1]), 2, 2)), [1, 3, 2]);
    assert.deepEqual(Array.from(upfirdn(new Float32Array([1, 2, 3]), new Float32Array([1, -1]), 1, 1)), [1, 1, 1, -3]);
    assert.equal(upfirdn(new Float32Array(0), new Float32Array([1]), 3, 2).length, 0);
  });

  for (const engine of ['wasm', 'js'] as const) {
  it(`streaming output equals upfirdn for random chunkings, at every ratio (${engine} loop)`, () => {
    const rand = rng(31);
    for (const [from, to] of ratios) {
      const o = { fromRate: from, toRate: to, engine };
      const r = new Resampler(o);
      assert.equal(r.engine, engine);
      for (let s = 0; s < 2; s++) {
        const x = randomSignal(1 + Math.floor(rand() * 6000), rand);
        const want = upfirdn(x, r.filter, r.up, r.down);
        assert.equal(maxAbsDiff(resampleOffline(x, o), want), 0);
        for (const sizes of chunkings(x.length, rand, 512)) {
          const got = stream(r, x, sizes);
          assert.equal(got.length, want.length, `${from}->${to} length`);
          assert.ok(maxAbsDiff(got, want) < 2e-6, `${from}->${to}: ${maxAbsDiff(got, want)}`);
        }
        // Before flush, the pushes have returned ceil(n*up/down) samples.
        const pushed = stream(r, x, [x.length], false);
        assert.equal(pushed.length, Math.ceil((x.length * r.up) / r.down));
        r.reset();
      }
      // A chunk far over the preallocated 4096 samples grows the buffers (the WebAssembly memory), history kept.
      const x = randomSignal(30000, rand);
      const got = stream(r, x, [700, 20000, 9300]);
      assert.ok(maxAbsDiff(got, upfirdn(x, r.filter, r.up, r.down)) < 2e-6, `${from}->${to} after growth`);
    }
  });
  }

  it('returns an empty array for an empty chunk and for flush with nothing pushed', () => {
    const r = new Resampler({ fromRate: 48000, toRate: 16000 });
    assert.equal(r.push(new Float32Array(0)).length, 0);
    assert.equal(r.flush().length, 0);
  });

  it('centres an impulse on its declared delay', () => {
    for (const [from, to] of [[48000, 16000], [16000, 48000], [8000, 16000]]) {
      const r = new Resampler({ fromRate: from, toRate: to });
      // Put the impulse where i*up + (N-1)/2 is a multiple of down, so the centre is an output sample.
      let i0 = 100;
      while ((i0 * r.up + (r.filter.length - 1) / 2) % r.down !== 0) i0++;
      const x = new Float32Array(i0 + 400);
      x[i0] = 1;
      const y = stream(r, x, chunkings(x.length, rng(32), 100)[0]);
      const centre = (i0 * r.up) / r.down + r.delay;
      assert.ok(Number.isInteger(centre));
      let peak = 0;
      for (let j = 0; j < y.length; j++) if (Math.abs(y[j]) > Math.abs(y[peak])) peak = j;
      assert.equal(peak, centre, `${from}->${to}`);
      for (let d = 1; d < 40; d++) assert.ok(Math.abs(y[centre - d] - y[centre + d]) < 1e-6, 'symmetric about the centre');
    }
  });

  it('delays a tone by exactly `delay` output samples, fractional delays included', () => {
    for (const [from, to] of [[44100, 16000], [48000, 16000], [16000, 48000]]) {
      const r = new Resampler({ fromRate: from, toRate: to });
      const f = 440;
      const x = tone(Math.round(from * 0.3), f, from);
      const y = stream(r, x, [x.length]);
      let err = 0;
      const start = Math.ceil(2 * r.delay) + 10;
      const end = Math.floor((x.length * to) / from) - 10;
      for (let j = start; j < end; j++) {
        err = Math.max(err, Math.abs(y[j] - Math.sin((2 * Math.PI * f * (j - r.delay)) / to)));
      }
      assert.ok(err < 1e-3, `${from}->${to}: ${err}`);
    }
  });

  it('keeps a 1 kHz tone within 0.1 dB', () => {
    for (const [from, to] of ratios) {
      const r = new Resampler({ fromRate: from, toRate: to });
      const x = tone(Math.round(from * 0.5), 1000, from, 0.5);
      const y = stream(r, x, [x.length]);
      const skip = Math.ceil(2 * r.delay) + 1;
      const yr = rms(y, skip, Math.floor((x.length * to) / from) - skip);
      const db = 20 * Math.log10(yr / rms(x));
      assert.ok(Math.abs(db) < 0.1, `${from}->${to}: ${db.toFixed(4)} dB`);
    }
  });

  it('attenuates tones above the new Nyquist by at least 60 dB', () => {
    const cases: [ResamplerOptions, number[]][] = [
      [{ fromRate: 48000, toRate: 16000 }, [8000, 9000, 12000, 20000]],
      [{ fromRate: 44100, toRate: 16000 }, [8000, 9000, 15000, 21000]],
      [{ fromRate: 16000, toRate: 8000 }, [4100, 6000]],
    ];
    for (const [o, freqs] of cases) {
      const r = new Resampler(o);
      for (const f of freqs) {
        const x = tone(Math.round(o.fromRate * 0.5), f, o.fromRate);
        const y = stream(r, x, [x.length]);
        // Only the steady state: the tone's switch-on and switch-off are broadband.
        const skip = Math.ceil(2 * r.delay) + 1;
        const yr = rms(y, skip, Math.floor((x.length * o.toRate) / o.fromRate) - skip);
        const db = 20 * Math.log10(yr / rms(x));
        assert.ok(db <= -60, `${o.fromRate}->${o.toRate} at ${f} Hz: ${db.toFixed(1)} dB`);
      }
    }
  });

  it('suppresses the images of an upsampled tone by at least 60 dB', () => {
    for (const [from, to] of [[16000, 48000], [8000, 16000]]) {
      const r = new Resampler({ fromRate: from, toRate: to });
      const x = tone(from, 3000, from);
      const y = stream(r, x, [x.length]);
      const n = 8192;
      const w = makeWindow('hann', n);
      const seg = new Float32Array(n);
      const at = Math.ceil(2 * r.delay);
      for (let i = 0; i < n; i++) seg[i] = y[at + i] * w[i];
      const spec = new Float32Array(n + 2);
      new RealFft(n).forward(seg, spec);
      let inBand = 0, images = 0;
      for (let k = 0; k <= n / 2; k++) {
        const p = spec[2 * k] ** 2 + spec[2 * k + 1] ** 2;
        if ((k * to) / n < from / 2) inBand += p;
        else images += p;
      }
      const db = 10 * Math.log10(images / inBand);
      assert.ok(db <= -60, `${from}->${to}: images at ${db.toFixed(1)} dB`);
    }
  });

  it('passes 16k -> 16k through unchanged', () => {
    const r = new Resampler({ fromRate: 16000, toRate: 16000 });
    assert.equal(r.delay, 0);
    const x = randomSignal(1000, rng(33));
    assert.equal(maxAbsDiff(stream(r, x, chunkings(1000, rng(34), 100)[2]), x), 0);
  });

  it("falls back to the JavaScript loop, saying why, where WebAssembly cannot start (node --jitless): same output", () => {
    const script = `
      import { Resampler } from ${JSON.stringify(new URL('../../kernels/resample.js', import.meta.url).href)};
      const r = new Resampler({ fromRate: 48000, toRate: 16000 });
      const x = Float32Array.from({ length: 4800 }, (_, i) => Math.sin(i / 7));
      console.log(JSON.stringify({ engine: r.engine, why: r.engineFallback, y: Array.from(r.push(x).subarray(100, 110)) }));`;
    const run = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const got = JSON.parse(run.stdout) as { engine: string; why: string; y: number[] };
    assert.equal(got.engine, 'js');
    assert.match(got.why, /no WebAssembly/);
    const here = new Resampler({ fromRate: 48000, toRate: 16000 });
    assert.equal(here.engine, 'wasm');
    assert.equal(here.engineFallback, undefined);
    const want = here.push(Float32Array.from({ length: 4800 }, (_, i) => Math.sin(i / 7))).subarray(100, 110);
    got.y.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `${v} vs ${want[i]}`));
  });

  it('rejects bad options', () => {
    assert.throws(() => new Resampler({ fromRate: 44100.5, toRate: 16000 }), /fromRate/);
    assert.throws(() => new Resampler({ fromRate: 48000, toRate: 0 }), /toRate/);
    assert.throws(() => new Resampler({ fromRate: 48000, toRate: 16000, transition: 1 }), /transition/);
    assert.throws(() => new Resampler({ fromRate: 48000, toRate: 16000, engine: 'simd' as 'js' }), /engine must be 'wasm' or 'js'/);
  });
});
