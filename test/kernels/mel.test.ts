import assert from 'node:assert/strict';
import { StreamingLogMel, hzToMel, logMelOffline, melFilterbank, melToHz, type LogMelOptions } from '../../kernels/mel.js';
import { randomSignal, rng } from '../helpers-random.js';
import { chunkings, feed, tone } from './chunking.js';

function streamMel(o: LogMelOptions, x: Float32Array, sizes: number[]): Float32Array[] {
  const m = new StreamingLogMel(o);
  const out: Float32Array[] = [];
  feed(x, sizes, (c) =>
    m.push(c, (mel, k) => {
      assert.equal(k, out.length);
      assert.equal(mel.length, o.nMels);
      out.push(mel.slice());
    }),
  );
  return out;
}

describe('kernels/mel', () => {
  it('implements the HTK and Slaney mel scales', () => {
    assert.equal(hzToMel(1000, 'slaney'), 15);
    assert.equal(hzToMel(500, 'slaney'), 7.5);
    // Above 1 kHz Slaney is logarithmic: 27 mels per factor 6.4.
    assert.ok(Math.abs(hzToMel(6400, 'slaney') - 42) < 1e-9);
    assert.ok(Math.abs(hzToMel(2000, 'slaney') - (15 + (27 * Math.log(2)) / Math.log(6.4))) < 1e-9);
    assert.ok(Math.abs(hzToMel(1000, 'htk') - 999.98553) < 1e-4);
    assert.ok(Math.abs(hzToMel(700, 'htk') - 2595 * Math.log10(2)) < 1e-9);
    for (const scale of ['htk', 'slaney'] as const) {
      for (const hz of [0, 50, 999, 1000, 1001, 4000, 8000, 22050]) {
        assert.ok(Math.abs(melToHz(hzToMel(hz, scale), scale) - hz) < 1e-6 * Math.max(1, hz), `${scale} ${hz}`);
      }
    }
  });

  it('builds triangular rows that tile the band (HTK: partition of unity)', () => {
    const o: LogMelOptions = { sampleRate: 16000, nFft: 512, hop: 160, nMels: 40, fmin: 20, fmax: 7600, melScale: 'htk' };
    const bank = melFilterbank(o);
    assert.equal(bank.length, 40);
    const lo = hzToMel(20, 'htk');
    const hi = hzToMel(7600, 'htk');
    const edges = Array.from({ length: 42 }, (_, i) => melToHz(lo + ((hi - lo) * i) / 41, 'htk'));
    for (let i = 0; i < bank.length; i++) {
      const row = bank[i];
      assert.equal(row.length, 257);
      let k = 0;
      while (k + 1 < row.length && row[k + 1] >= row[k]) k++;
      for (let j = k; j + 1 < row.length; j++) assert.ok(row[j + 1] <= row[j], `row ${i} is not a single triangle`);
      for (let j = 0; j < row.length; j++) {
        const hz = (j * 16000) / 512;
        assert.ok(row[j] >= 0 && row[j] <= 1);
        if (hz <= edges[i] || hz >= edges[i + 2]) assert.equal(row[j], 0, `row ${i} leaks outside its band at bin ${j}`);
      }
    }
    // Between the first and last centre, overlapping triangles sum to one.
    for (let j = 0; j < 257; j++) {
      const hz = (j * 16000) / 512;
      if (hz < edges[1] || hz > edges[40]) continue;
      const s = bank.reduce((a, row) => a + row[j], 0);
      assert.ok(Math.abs(s - 1) < 1e-5, `bin ${j}: ${s}`);
    }
  });

  it('Slaney rows have unit area in Hz', () => {
    const o: LogMelOptions = { sampleRate: 16000, nFft: 4096, hop: 160, nMels: 40 };
    const bank = melFilterbank(o);
    const df = 16000 / 4096;
    const f = Array.from({ length: 42 }, (_, i) => melToHz((hzToMel(8000, 'slaney') * i) / 41, 'slaney'));
    bank.forEach((row, i) => {
      const area = row.reduce((a, v) => a + v, 0) * df;
      assert.ok(Math.abs(area - 1) < 2e-3, `row ${i}: area ${area}`);
      const peak = Math.max(...row);
      assert.ok(peak <= 2 / (f[i + 2] - f[i]) * (1 + 1e-6) && peak > 0.9 * (2 / (f[i + 2] - f[i])), `row ${i}: peak ${peak}`);
    });
  });

  it('streaming log-mel equals logMelOffline for random signals and chunkings', () => {
    const rand = rng(41);
    const configs: LogMelOptions[] = [
      { sampleRate: 16000, nFft: 512, hop: 128, nMels: 80 },
      { sampleRate: 16000, nFft: 512, hop: 160, nMels: 40, melScale: 'htk', power: 1, fmin: 60, fmax: 7000 },
      { sampleRate: 22050, nFft: 1024, hop: 256, nMels: 64, window: 'sqrt-hann', logFloor: 1e-5 },
    ];
    for (const o of configs) {
      const x = randomSignal(3000 + Math.floor(rand() * 3000), rand);
      const want = logMelOffline(x, o);
      assert.ok(want.length > 5);
      for (const sizes of chunkings(x.length, rand, o.nFft)) {
        const got = streamMel(o, x, sizes);
        assert.equal(got.length, want.length);
        let err = 0;
        got.forEach((g, k) => g.forEach((v, i) => (err = Math.max(err, Math.abs(v - want[k][i])))));
        assert.ok(err < 1e-4, `${JSON.stringify(o)}: ${err}`);
      }
    }
  });

  it('declares the STFT latency, floors silence and puts a tone in its band', () => {
    const o: LogMelOptions = { sampleRate: 16000, nFft: 512, hop: 128, nMels: 40 };
    const m = new StreamingLogMel(o);
    assert.equal(m.latency, 384);
    assert.equal(m.nMels, 40);
    const at: number[] = [];
    const one = new Float32Array(1);
    for (let t = 0; t < 600; t++) m.push(one, () => at.push(t));
    at.forEach((t, k) => assert.equal(t, (k + 1) * 128 - 1));

    const silent = logMelOffline(new Float32Array(2000), o);
    for (const frame of silent) for (const v of frame) assert.ok(Math.abs(v - Math.log(1e-10)) < 1e-4);

    const frames = logMelOffline(tone(4000, 1000, 16000), o);
    const last = frames[frames.length - 1];
    const best = last.indexOf(Math.max(...last));
    const bank = melFilterbank(o);
    const bin = Math.round((1000 * 512) / 16000);
    assert.ok(bank[best][bin] > 0, `the loudest band (${best}) does not contain 1 kHz`);
  });

  it('reset restarts the stream', () => {
    const o: LogMelOptions = { sampleRate: 16000, nFft: 256, hop: 64, nMels: 20 };
    const rand = rng(42);
    const x = randomSignal(1000, rand);
    const m = new StreamingLogMel(o);
    m.push(randomSignal(77, rand), () => {});
    m.reset();
    const got: Float32Array[] = [];
    m.push(x, (v) => got.push(v.slice()));
    const want = logMelOffline(x, o);
    assert.equal(got.length, want.length);
    got.forEach((g, k) => g.forEach((v, i) => assert.ok(Math.abs(v - want[k][i]) < 1e-4)));
  });
});
