import assert from 'node:assert/strict';
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

  it('streaming == binauralOffline for moving sources, random chunkings and update times', () => {
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
      const o = { source: src, sampleRate: 16000, blockSize, smoothingMs, position: { azimuth: 10, elevation: 0, distance: 1 } };
      const want = binauralOffline(x, o, changes);
      for (const sizes of chunkings(x.length, rand, blockSize)) {
        const r = new BinauralRenderer(o);
        const got = render(r, x, cutAt(sizes, changes), changes);
        const err = maxAbsDiff(got, want);
        assert.ok(err < 5e-5, `smoothing ${smoothingMs} ms, B=${blockSize}: max error ${err}`);
        assert.ok(r.blocks === 0, 'flush resets');
      }
    }
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
