import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  BinauralRenderer,
  PositionGlide,
  binauralOffline,
  distanceGain,
  type HrirSource,
  type PositionChange,
} from '../../kernels/binaural-renderer.js';
import { convolveOffline } from '../../kernels/partitioned-conv.js';
import { HrirLookup, loadSofa, type HrtfSet } from '../../core/hrtf/index.js';
import { maxAbsDiff, randomSignal, rng } from '../helpers-random.js';
import { chunkings, concat, tone } from './chunking.js';

/** HRIRs that vary smoothly with direction: fixed random bases mixed by the direction's unit vector. */
function syntheticSource(length: number, seed: number): HrirSource {
  const rand = rng(seed);
  const bases = Array.from({ length: 8 }, () => randomSignal(length, rand).map((v) => v / Math.sqrt(length)));
  return {
    length,
    hrir(az, el, left, right) {
      const a = (az * Math.PI) / 180, e = (el * Math.PI) / 180;
      const u = [Math.cos(e) * Math.cos(a), Math.cos(e) * Math.sin(a), Math.sin(e), 1];
      for (let t = 0; t < length; t++) {
        let l = 0, r = 0;
        for (let k = 0; k < 4; k++) {
          l += u[k] * bases[k][t];
          r += u[k] * bases[k + 4][t];
        }
        left[t] = l;
        right[t] = r;
      }
    },
  };
}

/** Pushes x in the given chunk sizes, calling setPosition after `at` samples for each change. */
function render(r: BinauralRenderer, x: Float32Array, sizes: number[], changes: readonly PositionChange[] = []): Float32Array {
  const parts: Float32Array[] = [];
  let at = 0;
  let next = 0;
  const apply = () => {
    while (next < changes.length && changes[next].at <= at) r.setPosition(changes[next++].position);
  };
  for (const s of sizes) {
    apply();
    const y = r.push(x.subarray(at, at + s));
    assert.equal(y.length, 2 * s, 'one stereo sample per mono sample');
    parts.push(y.slice());
    at += s;
  }
  apply();
  parts.push(r.flush());
  return concat(parts);
}

/** Splits sizes so that every change's `at` falls on a push boundary. */
function cutAt(sizes: number[], changes: readonly PositionChange[]): number[] {
  const cuts = new Set(changes.map((c) => c.at));
  const out: number[] = [];
  let at = 0;
  for (const s of sizes) {
    let left = s;
    for (const c of [...cuts].filter((c) => c > at && c < at + s).sort((p, q) => p - q)) {
      out.push(c - (at + s - left));
      left = at + s - c;
    }
    out.push(left);
    at += s;
  }
  return out;
}

function channel(y: Float32Array, ear: number): Float32Array {
  return Float32Array.from({ length: y.length / 2 }, (_, i) => y[2 * i + ear]);
}

function maxJump(y: Float32Array, from = 0, to = y.length / 2): number {
  let m = 0;
  for (let ear = 0; ear < 2; ear++) for (let t = from + 1; t < to; t++) m = Math.max(m, Math.abs(y[2 * t + ear] - y[2 * (t - 1) + ear]));
  return m;
}

describe('kernels/binaural-renderer', () => {
  it('a fixed source is the direct convolution with its HRIRs times the distance gain, delayed by B', () => {
    const src = syntheticSource(300, 1);
    const rand = rng(61);
    const x = randomSignal(4000, rand);
    const pos = { azimuth: 40, elevation: 10, distance: 2 };
    const l = new Float32Array(300), r = new Float32Array(300);
    src.hrir(pos.azimuth, pos.elevation, l, r);
    const g = distanceGain(2);
    assert.equal(g, 0.5);
    for (const sizes of chunkings(x.length, rand, 64)) {
      const y = render(new BinauralRenderer({ source: src, sampleRate: 16000, blockSize: 64, position: pos }), x, sizes);
      assert.equal(y.length, 2 * (x.length + 64 + 299));
      for (const [ear, h] of [[0, l], [1, r]] as const) {
        const want = convolveOffline(x, h).map((v) => v * g);
        const got = channel(y, ear);
        assert.ok(got.subarray(0, 64).every((v) => v === 0), 'the first B samples are the latency');
        assert.ok(maxAbsDiff(got.subarray(64), want) < 2e-5, `ear ${ear}`);
      }
    }
  });

  for (const engine of ['wasm', 'js'] as const) {
    it(`streaming == binauralOffline for moving sources, random chunkings and update times (engine ${engine})`, () => {
      const rand = rng(62);
      const src = syntheticSource(200, 2);
      for (const [smoothingMs, blockSize] of [[20, 64], [0, 32], [5, 128]]) {
        const x = randomSignal(6000, rand);
        const changes: PositionChange[] = [];
        for (let at = 0; at < x.length; at += Math.floor(rand() * 900)) {
          changes.push({ at, position: { azimuth: rand() * 720 - 360, elevation: rand() * 180 - 90, distance: 0.1 + rand() * 3 } });
        }
        // Partial updates keep the other fields; two updates at the same time: the last wins.
        changes.push({ at: 3000, position: { azimuth: 180 } }, { at: 3000, position: { elevation: -45 } });
        changes.sort((p, q) => p.at - q.at);
        const o = { source: src, sampleRate: 16000, blockSize, smoothingMs, position: { azimuth: 10, elevation: 0, distance: 1 }, engine };
        const want = binauralOffline(x, o, changes);
        for (const sizes of chunkings(x.length, rand, blockSize)) {
          const r = new BinauralRenderer(o);
          assert.equal(r.engine, engine);
          const got = render(r, x, cutAt(sizes, changes), changes);
          const err = maxAbsDiff(got, want);
          assert.ok(err < 5e-5, `smoothing ${smoothingMs} ms, B=${blockSize}: max error ${err}`);
          assert.ok(r.blocks === 0, 'flush resets');
        }
      }
    });
  }

  it('the wasm and js engines agree on a moving source with crossfades, B = 4 .. 1024, filters of any length', () => {
    const rand = rng(63);
    const report: string[] = [];
    // Filter lengths below, at, just above and far above multiples of B, and a single tap.
    const cases: [number, number][] = [[4, 1], [4, 13], [8, 37], [16, 100], [64, 513], [128, 558], [256, 512], [1024, 512], [1024, 1500]];
    for (const [blockSize, taps] of cases) {
      const src = syntheticSource(taps, blockSize + taps);
      const x = randomSignal(Math.max(6000, 8 * blockSize), rand);
      // A new target every 40 ms-ish and a glide: most blocks change filters and crossfade.
      const changes: PositionChange[] = [];
      for (let at = 0; at < x.length; at += 1 + Math.floor(rand() * 2 * blockSize)) {
        changes.push({ at, position: { azimuth: rand() * 360, elevation: rand() * 120 - 60, distance: 0.2 + rand() * 2 } });
      }
      const sizes = cutAt(chunkings(x.length, rand, blockSize)[2], changes);
      const o = { source: src, sampleRate: 16000, blockSize, smoothingMs: 5 };
      const js = new BinauralRenderer({ ...o, engine: 'js' });
      const wasm = new BinauralRenderer({ ...o, engine: 'wasm' });
      const a = render(js, x, sizes, changes);
      const b = render(wasm, x, sizes, changes);
      assert.equal(b.length, a.length);
      let peak = 0;
      for (const v of a) peak = Math.max(peak, Math.abs(v));
      const err = maxAbsDiff(a, b);
      report.push(`B=${blockSize} L=${taps} ${err.toExponential(1)} (peak ${peak.toFixed(2)})`);
      // float32 FFTs of 2B points: relative error grows like log2 B; 2e-6 of the peak holds up to B = 1024.
      assert.ok(err < 2e-6 * peak, `B=${blockSize} L=${taps}: max diff ${err} (peak ${peak})`);
    }
    console.log(`      wasm vs js, max abs diff: ${report.join(', ')}`);
  });

  it('engine: wasm by default; chunks larger than its staging grow the memory and keep the output right; output views are reused', () => {
    const src = syntheticSource(300, 4);
    const rand = rng(64);
    const x = randomSignal(30000, rand);
    const r = new BinauralRenderer({ source: src, sampleRate: 16000, blockSize: 64, position: { azimuth: 70 } });
    assert.equal(r.engine, 'wasm');
    assert.equal(r.engineFallback, undefined);
    const js = new BinauralRenderer({ source: src, sampleRate: 16000, blockSize: 64, position: { azimuth: 70 }, engine: 'js' });
    assert.equal(js.engine, 'js');
    const sizes = [100, 100, 9000, 100, 20000, 700];
    const a = render(r, x, sizes);
    const b = render(js, x, sizes);
    assert.ok(maxAbsDiff(a, b) < 1e-5, `max diff ${maxAbsDiff(a, b)}`);
    const first = r.push(x.subarray(0, 960));
    const second = r.push(x.subarray(960, 1920));
    assert.equal(first, second, 'same view object for the same length');
    assert.throws(() => new BinauralRenderer({ source: src, sampleRate: 16000, engine: 'gpu' as 'js' }), /engine must be 'wasm' or 'js'/);
  });

  it("falls back to the js engine, saying why, where WebAssembly cannot start (node --jitless): same output", () => {
    const script = `
      import { BinauralRenderer } from ${JSON.stringify(new URL('../../kernels/binaural-renderer.js', import.meta.url).href)};
      const source = { length: 20, hrir(az, el, l, r) { for (let t = 0; t < 20; t++) { l[t] = Math.cos(t + az / 60); r[t] = Math.sin(t * 0.3); } } };
      const r = new BinauralRenderer({ source, sampleRate: 16000, blockSize: 16, position: { azimuth: 30 } });
      const x = Float32Array.from({ length: 200 }, (_, i) => Math.sin(i / 7));
      console.log(JSON.stringify({ engine: r.engine, why: r.engineFallback, y: Array.from(r.push(x).subarray(100, 140)) }));`;
    const run = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const got = JSON.parse(run.stdout) as { engine: string; why: string; y: number[] };
    assert.equal(got.engine, 'js');
    assert.match(got.why, /no WebAssembly/);
    const source: HrirSource = { length: 20, hrir(az, _el, l, r) { for (let t = 0; t < 20; t++) { l[t] = Math.cos(t + az / 60); r[t] = Math.sin(t * 0.3); } } };
    const here = new BinauralRenderer({ source, sampleRate: 16000, blockSize: 16, position: { azimuth: 30 } });
    assert.equal(here.engine, 'wasm');
    const want = here.push(Float32Array.from({ length: 200 }, (_, i) => Math.sin(i / 7))).subarray(100, 140);
    got.y.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${v} vs ${want[i]}`));
  });

  it('an impulse comes out exactly B samples later (declared latency)', () => {
    const delta: HrirSource = {
      length: 1,
      hrir(_a, _e, l, r) {
        l[0] = 1;
        r[0] = 0.5;
      },
    };
    for (const b of [32, 128]) {
      const r = new BinauralRenderer({ source: delta, sampleRate: 48000, blockSize: b });
      assert.equal(r.latency, b);
      const x = new Float32Array(4 * b);
      x[5] = 1;
      const y = r.push(x);
      for (let t = 0; t < 4 * b; t++) {
        assert.ok(Math.abs(y[2 * t] - (t === 5 + b ? 1 : 0)) < 1e-6, `B=${b} left t=${t}: ${y[2 * t]}`);
        assert.ok(Math.abs(y[2 * t + 1] - (t === 5 + b ? 0.5 : 0)) < 1e-6, `B=${b} right t=${t}: ${y[2 * t + 1]}`);
      }
    }
  });

  it('the glide moves along the great circle, lands exactly on the target, and handles opposite directions', () => {
    const g = new PositionGlide({ azimuth: 0, elevation: 0, distance: 1 }, 0.2);
    assert.equal(g.step(), false, 'nothing to do when settled');
    g.setTarget({ azimuth: 90, distance: 4 });
    let prev = 0;
    let steps = 0;
    while (g.step()) {
      const c = g.current;
      assert.ok(Math.abs(c.elevation) < 1e-9, 'stays on the horizontal great circle');
      assert.ok(c.azimuth > prev - 1e-9 && c.azimuth <= 90 + 1e-9, `azimuth ${c.azimuth} after ${prev}`);
      assert.ok(c.distance >= 1 && c.distance <= 4);
      prev = c.azimuth;
      steps++;
    }
    assert.deepEqual(g.current, { azimuth: 90, elevation: 0, distance: 4 });
    assert.ok(steps > 10 && steps < 60, `${steps} steps`);
    // Opposite direction: still converges (turning left), never NaN.
    g.setTarget({ azimuth: 270 });
    g.step();
    assert.ok(Number.isFinite(g.current.azimuth) && Math.abs(g.current.azimuth - 90) > 1, JSON.stringify(g.current));
    for (let i = 0; i < 200 && g.step(); i++);
    assert.deepEqual(g.current, { azimuth: 270, elevation: 0, distance: 4 });
    // alpha 1: jumps in one step.
    const j = new PositionGlide({ azimuth: 0, elevation: 0, distance: 1 }, 1);
    j.setTarget({ elevation: 90 });
    assert.equal(j.step(), true);
    assert.deepEqual(j.current, { azimuth: 0, elevation: 90, distance: 1 });
  });

  it('refuses bad options and positions', () => {
    const src = syntheticSource(8, 3);
    assert.throws(() => new BinauralRenderer({ source: src, sampleRate: 48000, blockSize: 100 }), /power of two/);
    assert.throws(() => new BinauralRenderer({ source: src, sampleRate: 48000, position: { distance: 0 } }), /distance must be > 0/);
    const r = new BinauralRenderer({ source: src, sampleRate: 48000 });
    assert.throws(() => r.setPosition({ azimuth: NaN }), /azimuth must be a finite number/);
    assert.throws(() => r.setPosition({ elevation: 91 }), /elevation must be in \[-90, 90\]/);
  });

  describe('with the KEMAR set (no clicks)', () => {
    let set: HrtfSet;
    let lookup: HrirLookup;
    const rate = 48000;
    before(async () => {
      set = await loadSofa(undefined, { sampleRate: rate });
      lookup = new HrirLookup(set);
    });

    it('a moving source has no sample-to-sample jump above 1.5x the largest one of a fixed source', () => {
      // A 500 Hz tone: its natural largest step is 2*pi*500/48000 of its amplitude at each ear.
      const x = tone(rate, 500, rate, 0.25);
      // Fixed sources at the directions and distances the moving ones visit.
      const fixed = [0, 45, 90, 135, 180, 225, 270, 315].flatMap((azimuth) =>
        [1, 0.5].map((distance) => {
          const y = render(new BinauralRenderer({ source: lookup, sampleRate: rate, position: { azimuth, distance } }), x, [x.length]);
          return maxJump(y, 1000, x.length);
        }),
      );
      const natural = Math.max(...fixed);
      const bound = 1.5 * natural;
      // A full turn in one second, updated every 10 ms (7.2 degree targets), plus hard left/right swaps with no glide.
      const sweep: PositionChange[] = Array.from({ length: 100 }, (_, k) => ({ at: k * 480, position: { azimuth: (k * 3.6) % 360, elevation: 20 * Math.sin(k / 10) } }));
      const swaps: PositionChange[] = Array.from({ length: 20 }, (_, k) => ({ at: 1000 + k * 2345, position: { azimuth: k % 2 ? 270 : 90, distance: k % 3 ? 1 : 0.5 } }));
      const runs: [string, number][] = [];
      for (const [label, changes, smoothingMs, crossfade] of [
        ['sweep', sweep, 20, true],
        ['swaps, no glide', swaps, 0, true],
        ['swaps, no glide, hard switch', swaps, 0, false],
      ] as const) {
        const r = new BinauralRenderer({ source: lookup, sampleRate: rate, smoothingMs, crossfade });
        const y = render(r, x, cutAt([x.length], changes), changes);
        runs.push([label, maxJump(y, 1000, x.length)]);
        assert.ok(r.blocks === 0);
      }
      const [sweepJump, swapJump, hardJump] = runs.map((r) => r[1]);
      const report = `natural ${natural.toFixed(4)} (fixed: ${fixed.map((v) => v.toFixed(4)).join(' ')}), bound ${bound.toFixed(4)}; ${runs.map(([l, v]) => `${l} ${v.toFixed(4)} (${(v / natural).toFixed(2)}x)`).join(', ')}`;
      assert.ok(sweepJump <= bound, report);
      assert.ok(swapJump <= bound, report);
      // The bound has teeth: switching filters without the crossfade breaks it.
      assert.ok(hardJump > 2 * bound, report);
      console.log(`      click bound: ${report}`);
    });
  });
});
