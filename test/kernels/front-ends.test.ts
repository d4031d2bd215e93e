import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  KALDI_LOG_FLOOR,
  StreamingKaldiFbank,
  kaldiFbankFrameCount,
  kaldiFbankOffline,
  kaldiMelBanks,
  kaldiMelScale,
  type KaldiFbankOptions,
} from '../../kernels/fbank.js';
import { CentredFramer, edgeIndex } from '../../kernels/centred-framer.js';
import { StreamingNemoMel, nemoMelFrameCount, nemoMelOffline, nemoNormalizePerFeature, type NemoMelOptions } from '../../kernels/nemo-mel.js';
import { randomSignal, rng } from '../helpers-random.js';
import { chunkings, concat, feed } from './chunking.js';

/**
 * References: test/fixtures/front-ends/make-fixtures.py (torchaudio.compliance.kaldi.fbank, and
 * NeMo's FilterbankFeatures re-expressed in torch), computed in float64 from the float32 inputs
 * stored beside them.
 *
 * Tolerance against the references: 5e-4 absolute on log values (measured: 2.3e-4 Kaldi,
 * 1.2e-4 NeMo, both in low-energy bands of the chirp). The TS FFT takes and returns float32,
 * so each windowed frame is rounded to float32 (relative 6e-8 of the frame's peak), which is a
 * large relative error for a band 60-80 dB below the frame's loudest one; torchaudio builds its
 * Kaldi mel banks in float32 whatever the input type. For scale: the reference's own float32
 * path is up to 1.1e-3 away from its float64 path on the same signals (manifest.json).
 */
const REFERENCE_TOLERANCE = 5e-4;
/** Streaming against offline: the same float arithmetic in another order at most. */
const STREAM_TOLERANCE = 1e-5;

const fixtures = fileURLToPath(new URL('../../../test/fixtures/front-ends/', import.meta.url));

interface Manifest {
  signals: Record<string, { samples: number; file: string }>;
  features: {
    signal: string;
    feature: string;
    file: string;
    frames: number;
    bins: number;
    options: { window?: 'hamming'; snip_edges?: boolean; n_mels?: number; pad_mode?: 'reflect'; normalize?: 'per_feature' };
  }[];
}

function readF32(file: string): Float32Array {
  const b = readFileSync(fixtures + file);
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

function maxDiff(got: Float32Array[], want: Float32Array[]): number {
  assert.equal(got.length, want.length, 'frame count');
  let m = 0;
  got.forEach((g, k) => {
    assert.equal(g.length, want[k].length, 'bins');
    g.forEach((v, i) => (m = Math.max(m, Math.abs(v - want[k][i]))));
  });
  return m;
}

interface FrontEnd {
  push(x: Float32Array, cb: (frame: Float32Array, index: number) => void): void;
  flush(cb: (frame: Float32Array, index: number) => void): void;
}

function stream(fe: FrontEnd, x: Float32Array, sizes: number[]): Float32Array[] {
  const out: Float32Array[] = [];
  const take = (frame: Float32Array, k: number): void => {
    assert.equal(k, out.length, 'frame indices are consecutive');
    out.push(frame.slice());
  };
  feed(x, sizes, (c) => fe.push(c, take));
  fe.flush(take);
  return out;
}

describe('kernels/front-ends (Kaldi fbank, NeMo log-mel)', () => {
  const manifest = JSON.parse(readFileSync(fixtures + 'manifest.json', 'utf8')) as Manifest;
  const signals = new Map(Object.entries(manifest.signals).map(([name, s]) => [name, readF32(s.file)]));

  it('has the fixtures it expects', () => {
    for (const [name, s] of Object.entries(manifest.signals)) assert.equal(signals.get(name)?.length, s.samples);
    const kinds = manifest.features.map((f) => `${f.signal}.${f.feature}`);
    for (const k of ['chirp.kaldi', 'chirp.nemo', 'bursts.kaldi', 'bursts.nemo', 'bursts.nemo-reflect', 'short.kaldi-hamming-snip', 'short.nemo128-per-feature']) {
      assert.ok(kinds.includes(k), k);
    }
  });

  describe('kaldiFbankOffline against torchaudio.compliance.kaldi.fbank', () => {
    for (const f of [
      { signal: 'chirp', feature: 'kaldi' },
      { signal: 'bursts', feature: 'kaldi' },
      { signal: 'short', feature: 'kaldi' },
      { signal: 'short', feature: 'kaldi-hamming-snip' },
    ]) {
      it(`${f.signal}.${f.feature}`, () => {
        const e = manifest.features.find((m) => m.signal === f.signal && m.feature === f.feature);
        assert.ok(e);
        const x = signals.get(e.signal) as Float32Array;
        const o: KaldiFbankOptions = { window: e.options.window ?? 'povey', snipEdges: e.options.snip_edges ?? false };
        const got = kaldiFbankOffline(x, o);
        assert.equal(got.length, kaldiFbankFrameCount(x.length, o));
        const ref = readF32(e.file);
        const want = Array.from({ length: e.frames }, (_, k) => ref.subarray(k * e.bins, (k + 1) * e.bins));
        const err = maxDiff(got, want);
        assert.ok(err < REFERENCE_TOLERANCE, `max |diff| ${err}`);
      });
    }
  });

  describe('nemoMelOffline against NeMo FilterbankFeatures in torch', () => {
    for (const f of [
      { signal: 'chirp', feature: 'nemo' },
      { signal: 'bursts', feature: 'nemo' },
      { signal: 'bursts', feature: 'nemo-reflect' },
      { signal: 'short', feature: 'nemo128' },
      { signal: 'short', feature: 'nemo128-per-feature' },
    ]) {
      it(`${f.signal}.${f.feature}`, () => {
        const e = manifest.features.find((m) => m.signal === f.signal && m.feature === f.feature);
        assert.ok(e);
        const x = signals.get(e.signal) as Float32Array;
        const o: NemoMelOptions = { nMels: e.options.n_mels ?? 80, padMode: e.options.pad_mode ?? 'constant' };
        let got = nemoMelOffline(x, o);
        assert.equal(got.length, nemoMelFrameCount(x.length, o));
        if (e.options.normalize === 'per_feature') got = nemoNormalizePerFeature(got);
        const ref = readF32(e.file);
        const want = Array.from({ length: e.frames }, (_, k) => ref.subarray(k * e.bins, (k + 1) * e.bins));
        const err = maxDiff(got, want);
        assert.ok(err < REFERENCE_TOLERANCE, `max |diff| ${err}`);
      });
    }
  });

  it('Kaldi mel banks: 1127 ln(1 + f/700), triangles of peak <= 1 between 20 and 7600 Hz, Nyquist bin empty', () => {
    assert.ok(Math.abs(kaldiMelScale(700) - 1127 * Math.LN2) < 1e-9);
    const banks = kaldiMelBanks();
    assert.equal(banks.length, 80);
    const lo = kaldiMelScale(20);
    const hi = kaldiMelScale(7600);
    const delta = (hi - lo) / 81;
    banks.forEach((row, b) => {
      assert.equal(row.length, 257);
      assert.equal(row[256], 0);
      for (let k = 0; k < 257; k++) {
        const m = kaldiMelScale((k * 16000) / 512);
        if (m <= lo + b * delta || m >= lo + (b + 2) * delta) assert.equal(row[k], 0, `bin ${b} leaks at fft bin ${k}`);
        assert.ok(row[k] >= 0 && row[k] <= 1);
      }
    });
    // In the mel domain neighbouring triangles sum to one between the first and last centres.
    for (let k = 0; k < 256; k++) {
      const m = kaldiMelScale((k * 16000) / 512);
      if (m < lo + delta || m > lo + 80 * delta) continue;
      const s = banks.reduce((a, row) => a + row[k], 0);
      assert.ok(Math.abs(s - 1) < 1e-9, `fft bin ${k}: ${s}`);
    }
  });

  it('edge rules: zeros, reflect (edge once), symmetric (edge repeated), repeated when the signal is short', () => {
    const n = 5;
    const idx = (mode: 'zeros' | 'reflect' | 'symmetric'): number[] => [-7, -3, -2, -1, 0, 4, 5, 6, 9, 12].map((s) => edgeIndex(s, n, mode));
    assert.deepEqual(idx('zeros'), [-1, -1, -1, -1, 0, 4, -1, -1, -1, -1]);
    // reflect: ... 3 2 1 | 0 1 2 3 4 | 3 2 1 0 1 ...
    assert.deepEqual(idx('reflect'), [1, 3, 2, 1, 0, 4, 3, 2, 1, 4]);
    // symmetric: ... 2 1 0 | 0 1 2 3 4 | 4 3 2 1 0 0 1 2 ...
    assert.deepEqual(idx('symmetric'), [3, 2, 1, 0, 0, 4, 4, 3, 0, 2]);
    assert.equal(edgeIndex(-3, 1, 'reflect'), 0);
    assert.equal(edgeIndex(7, 1, 'symmetric'), 0);
  });

  it('CentredFramer: streaming frames equal frames cut from the whole signal, emitted at readyAt', () => {
    const rand = rng(70);
    for (const [len, hop, offset, edge] of [
      [400, 160, 120, 'symmetric'],
      [400, 160, 200, 'reflect'],
      [400, 160, 200, 'zeros'],
      [7, 3, 7, 'reflect'],
      [16, 16, 0, 'zeros'],
    ] as const) {
      const x = randomSignal(500 + Math.floor(rand() * 1500), rand);
      const count = Math.floor(x.length / hop) + 1;
      const want: Float32Array[] = [];
      for (let m = 0; m < count; m++) {
        const f = new Float32Array(len);
        for (let i = 0; i < len; i++) {
          const s = edgeIndex(m * hop - offset + i, x.length, edge);
          f[i] = s < 0 ? 0 : x[s];
        }
        want.push(f);
      }
      for (const sizes of chunkings(x.length, rand, len)) {
        const framer = new CentredFramer(len, hop, offset, edge);
        const got: Float32Array[] = [];
        let pushed = 0;
        feed(x, sizes, (c) => {
          framer.push(c, (f, m) => {
            assert.equal(m, got.length);
            // Emitted in the chunk that completes it: not before, and not later.
            assert.ok(pushed < framer.readyAt(m) && framer.readyAt(m) <= pushed + c.length, `frame ${m}`);
            got.push(f.slice());
          });
          pushed += c.length;
          assert.ok(framer.readyAt(got.length) > pushed, 'a complete frame was held back');
        });
        framer.flush(count, (f, m) => {
          assert.equal(m, got.length);
          got.push(f.slice());
        });
        assert.equal(maxDiff(got, want), 0, `${len}/${hop}/${offset}/${edge}`);
      }
    }
  });

  it('Kaldi: streaming equals kaldiFbankOffline for random signals and chunkings', () => {
    const rand = rng(71);
    const configs: KaldiFbankOptions[] = [{}, { window: 'hamming', snipEdges: true }, { numBins: 40, lowFreq: 0, highFreq: 8000, removeDcOffset: false, preemphCoeff: 0, window: 'hann' }, { frameLengthMs: 32, frameShiftMs: 12.5, usePower: false }];
    for (const o of configs) {
      const x = randomSignal(3000 + Math.floor(rand() * 3000), rand);
      const want = kaldiFbankOffline(x, o);
      assert.ok(want.length > 10);
      for (const sizes of chunkings(x.length, rand, 400)) {
        const got = stream(new StreamingKaldiFbank(o), x, sizes);
        const err = maxDiff(got, want);
        assert.ok(err <= STREAM_TOLERANCE, `${JSON.stringify(o)}: ${err}`);
      }
    }
  });

  it('NeMo: streaming equals nemoMelOffline for random signals and chunkings', () => {
    const rand = rng(72);
    const configs: NemoMelOptions[] = [{}, { padMode: 'reflect' }, { nMels: 128 }, { magPower: 1, logGuard: 'clamp', preemph: 0, winLength: 320, nFft: 512 }];
    for (const o of configs) {
      const x = randomSignal(3000 + Math.floor(rand() * 3000), rand);
      const want = nemoMelOffline(x, o);
      assert.ok(want.length > 10);
      for (const sizes of chunkings(x.length, rand, 400)) {
        const got = stream(new StreamingNemoMel(o), x, sizes);
        const err = maxDiff(got, want);
        assert.ok(err <= STREAM_TOLERANCE, `${JSON.stringify(o)}: ${err}`);
      }
    }
  });

  it('Kaldi frame placement: frame m is centred on 160m + 80, out at sample 160m + 279, floor((N + 80)/160) frames', () => {
    const fb = new StreamingKaldiFbank();
    assert.equal(fb.numBins, 80);
    assert.equal(fb.frameLength, 400);
    assert.equal(fb.frameShift, 160);
    assert.equal(fb.lookahead, 200);
    for (let m = 0; m < 5; m++) assert.equal(fb.readyAt(m), 160 * m + 280);
    const x = randomSignal(1000, rng(73));
    const at: number[] = [];
    for (let t = 0; t < x.length; t++) fb.push(x.subarray(t, t + 1), () => at.push(t + 1));
    // Emitted exactly when its last sample arrives: 280, 440, 600, 760, 920 samples pushed.
    assert.deepEqual(at, [280, 440, 600, 760, 920]);
    let tail = 0;
    fb.flush(() => tail++);
    assert.equal(at.length + tail, Math.floor((1000 + 80) / 160));
    for (const [n, frames] of [
      [0, 0], [79, 0], [80, 1], [239, 1], [240, 2], [11111, 69], [11200, 70],
    ]) {
      assert.equal(kaldiFbankFrameCount(n), frames, `N=${n}`);
      const got = stream(new StreamingKaldiFbank(), randomSignal(n, rng(n)), [n]);
      assert.equal(got.length, frames, `streamed N=${n}`);
    }
    // snip_edges: only frames that fit.
    assert.equal(kaldiFbankFrameCount(399, { snipEdges: true }), 0);
    assert.equal(kaldiFbankFrameCount(400, { snipEdges: true }), 1);
    assert.equal(kaldiFbankFrameCount(4801, { snipEdges: true }), 28);
  });

  it('Kaldi snip_edges=false is snip_edges=true on the signal mirrored by 120 samples at the start and to the end of the last frame', () => {
    const x = randomSignal(2345, rng(74));
    const n = x.length;
    const frames = kaldiFbankFrameCount(n);
    const lastEnd = (frames - 1) * 160 - 120 + 400;
    const padded = new Float32Array(120 + lastEnd);
    for (let i = 0; i < 120; i++) padded[i] = x[119 - i];
    for (let s = 0; s < lastEnd; s++) padded[120 + s] = s < n ? x[s] : x[2 * n - 1 - s];
    const want = kaldiFbankOffline(padded, { snipEdges: true });
    assert.equal(want.length, frames);
    const got = stream(new StreamingKaldiFbank(), x, [1000, 1345]);
    assert.ok(maxDiff(got, want) <= STREAM_TOLERANCE);
  });

  it('Kaldi: streams shorter than a frame mirror repeatedly, as Kaldi does, and still stream == offline', () => {
    for (const n of [80, 100, 150, 279]) {
      const x = randomSignal(n, rng(n + 1));
      const want = kaldiFbankOffline(x);
      assert.equal(want.length, Math.floor((n + 80) / 160));
      const got = stream(new StreamingKaldiFbank(), x, [Math.floor(n / 3), n - Math.floor(n / 3)]);
      assert.ok(maxDiff(got, want) <= STREAM_TOLERANCE, `N=${n}`);
      for (const f of got) for (const v of f) assert.ok(Number.isFinite(v));
    }
  });

  it('NeMo frame placement: frame k centred on 160k, out at sample 160k + 199 (+1 for frame 0 when reflecting)', () => {
    for (const padMode of ['constant', 'reflect'] as const) {
      const m = new StreamingNemoMel({ padMode });
      assert.equal(m.nMels, 80);
      assert.equal(m.lookahead, 200);
      assert.equal(m.readyAt(0), padMode === 'reflect' ? 201 : 200);
      for (let k = 1; k < 5; k++) assert.equal(m.readyAt(k), 160 * k + 200);
      const x = randomSignal(1000, rng(75));
      const at: number[] = [];
      for (let t = 0; t < x.length; t++) m.push(x.subarray(t, t + 1), () => at.push(t + 1));
      assert.deepEqual(at, [padMode === 'reflect' ? 201 : 200, 360, 520, 680, 840, 1000]);
      let tail = 0;
      m.flush(() => tail++);
      // constant (NeMo >= 2.4): floor(N/160) valid frames = 6; reflect (NeMo < 2.4): + 1.
      assert.equal(at.length + tail, padMode === 'reflect' ? 7 : 6);
    }
    for (const [n, c, r] of [
      [0, 0, 0], [1, 0, 1], [159, 0, 1], [160, 1, 2], [11111, 69, 70], [11200, 70, 71],
    ]) {
      assert.equal(nemoMelFrameCount(n), c, `constant N=${n}`);
      assert.equal(nemoMelFrameCount(n, { padMode: 'reflect' }), r, `reflect N=${n}`);
      const x = randomSignal(n, rng(n + 2));
      assert.equal(stream(new StreamingNemoMel(), x, [n]).length, c);
      const refl = stream(new StreamingNemoMel({ padMode: 'reflect' }), x, [n]);
      assert.equal(refl.length, r);
      const want = nemoMelOffline(x, { padMode: 'reflect' });
      assert.ok(maxDiff(refl, want) <= STREAM_TOLERANCE);
    }
  });

  it('NeMo constant padding: the first frame sees zeros before the signal (a signal that starts late gives the same frames, shifted)', () => {
    // Prepending 160*j zeros shifts the frames by exactly j, and the first j frames are silence: ln(2^-24).
    const x = randomSignal(3000, rng(76));
    const base = nemoMelOffline(x);
    const shifted = nemoMelOffline(concat([new Float32Array(480), x]));
    assert.equal(shifted.length, base.length + 3);
    for (let k = 0; k < 2; k++) for (const v of shifted[k]) assert.equal(v, Math.fround(Math.log(2 ** -24)));
    // Frame 2 straddles the start; from frame 3 on the frames must match (preemphasis of the
    // first sample is x[0] alone in both, since the prepended samples are zero).
    assert.ok(maxDiff(shifted.slice(3), base) <= STREAM_TOLERANCE);
  });

  it('floors: digital silence gives ln(FLT_EPSILON) (Kaldi) and ln(2^-24) (NeMo) exactly', () => {
    const z = new Float32Array(3200);
    for (const f of stream(new StreamingKaldiFbank(), z, [1000, 2200])) for (const v of f) assert.equal(v, Math.fround(Math.log(KALDI_LOG_FLOOR)));
    for (const f of stream(new StreamingNemoMel(), z, [3200])) for (const v of f) assert.equal(v, Math.fround(Math.log(2 ** -24)));
    for (const f of nemoMelOffline(z, { logGuard: 'clamp', logGuardValue: 1e-5 })) for (const v of f) assert.equal(v, Math.fround(Math.log(1e-5)));
  });

  it('flush and reset restart the stream', () => {
    const rand = rng(77);
    const x = randomSignal(2000, rand);
    const fb = new StreamingKaldiFbank();
    const nm = new StreamingNemoMel();
    fb.push(randomSignal(555, rand), () => {});
    nm.push(randomSignal(555, rand), () => {});
    fb.reset();
    nm.reset();
    assert.ok(maxDiff(stream(fb, x, [700, 1300]), kaldiFbankOffline(x)) <= STREAM_TOLERANCE);
    assert.ok(maxDiff(stream(nm, x, [700, 1300]), nemoMelOffline(x)) <= STREAM_TOLERANCE);
    // flush already reset: a second stream on the same objects is a fresh stream.
    const y = randomSignal(1234, rand);
    assert.ok(maxDiff(stream(fb, y, [1234]), kaldiFbankOffline(y)) <= STREAM_TOLERANCE);
    assert.ok(maxDiff(stream(nm, y, [1234]), nemoMelOffline(y)) <= STREAM_TOLERANCE);
    let none = 0;
    fb.flush(() => none++);
    nm.flush(() => none++);
    assert.equal(none, 0);
  });

  it('per_feature normalisation: zero mean and unit (unbiased) std per band', () => {
    const frames = nemoMelOffline(randomSignal(4000, rng(78)));
    const norm = nemoNormalizePerFeature(frames);
    for (let i = 0; i < 80; i++) {
      const col = norm.map((f) => f[i]);
      const mean = col.reduce((a, v) => a + v, 0) / col.length;
      const std = Math.sqrt(col.reduce((a, v) => a + (v - mean) ** 2, 0) / (col.length - 1));
      assert.ok(Math.abs(mean) < 1e-5 && Math.abs(std - 1) < 1e-3, `band ${i}: mean ${mean} std ${std}`);
    }
    assert.deepEqual(nemoNormalizePerFeature([]), []);
  });
});
