import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { frameOffline } from '../../kernels/rechunker.js';
import { Resampler, resampleOffline } from '../../kernels/resample.js';
import { logMelOffline } from '../../kernels/mel.js';
import { stftOffline } from '../../kernels/stft.js';
import { CausewayError } from '../../core/errors.js';
import { audioFrame, type AudioFrame } from '../../core/frames.js';
import { pipelineLatency } from '../../core/operator-info.js';
import { rechunk } from '../../operators/rechunk.js';
import { resample } from '../../operators/resample.js';
import { istft, logMel, stft } from '../../operators/stft.js';
import { maxAbsDiff, randomChunking, randomSignal, rng } from '../helpers-random.js';
import { collect, concat, framesOf, from } from './frames-helpers.js';

describe('operators: rechunk, resample, stft, istft, logMel', () => {
  it('rechunk: fixed frames with hop and exact pts, for random input chunkings', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const rand = rng(seed);
      const x = randomSignal(5000, rand);
      const frames = framesOf(x, 16000, randomChunking(5000, rand, 0, 700), 1, 1_000_000);
      const out = await collect(from(frames).pipe(rechunk({ frameSamples: 400, hopSamples: 160, flush: false })));
      const ref = frameOffline(x, 400, 160);
      assert.equal(out.length, ref.length);
      out.forEach((f, k) => {
        assert.deepEqual(f.data, ref[k]);
        assert.equal(f.pts, 1_000_000 + Math.round((k * 160 * 1e6) / 16000));
      });
    }
  });

  it('rechunk emits a frame in the same tick as the input that completes it, and flushes the tail (marbles)', () => {
    const ts = new TestScheduler((a, b) => assert.deepEqual(a, b));
    ts.run(({ cold, expectObservable }) => {
      const f = (n: number, v: number) => audioFrame(0, 1000, 1, new Float32Array(n).fill(v), 0);
      const src = cold<AudioFrame>('a-b-c|', { a: f(3, 1), b: f(3, 2), c: f(1, 3) });
      const lens = src.pipe(rechunk({ frameSamples: 4 }));
      expectObservable(lens).toBe('--x--(y|)', {
        x: audioFrame(0, 1000, 1, Float32Array.from([1, 1, 1, 2]), 0),
        y: audioFrame(4000, 1000, 1, Float32Array.from([2, 2, 3, 0]), 0),
      });
    });
  });

  it('resample: output aligned to the source timeline, equal to the offline filter, any chunking', async () => {
    for (const [from_, to] of [[48000, 16000], [44100, 16000], [16000, 48000], [8000, 16000]]) {
      const rand = rng(from_ + to);
      const n = Math.round(from_ * 0.7);
      const x = randomSignal(n, rand);
      const ref = resampleOffline(x, { fromRate: from_, toRate: to });
      const trim = (new Resampler({ fromRate: from_, toRate: to }).delay);
      const total = Math.ceil((n * to) / from_);
      for (let trial = 0; trial < 3; trial++) {
        const frames = framesOf(x, from_, randomChunking(n, rand, 0, 2000));
        const out = await collect(from(frames).pipe(resample({ toRate: to })));
        const y = concat(out);
        assert.equal(y.length, total, `${from_}->${to} length`);
        assert.ok(maxAbsDiff(y, ref.subarray(trim, trim + total)) < 1e-6, `${from_}->${to} equals offline`);
        let expectPts = 0;
        let count = 0;
        for (const f of out) {
          assert.equal(f.sampleRate, to);
          assert.equal(f.pts, Math.round((count * 1e6) / to));
          count += f.data.length;
          expectPts = f.pts;
        }
        assert.ok(expectPts >= 0);
      }
    }
  });

  it('resample keeps stereo channels apart', async () => {
    const n = 4800;
    const x = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      x[2 * i] = Math.sin((2 * Math.PI * 440 * i) / 48000);
      x[2 * i + 1] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 48000);
    }
    const out = concat(await collect(from(framesOf(x, 48000, [1000, 1000, 2800], 2)).pipe(resample({ toRate: 16000 }))));
    assert.equal(out.length, 2 * 1600);
    // Away from the edges each channel is its own tone, sampled at the same instants.
    for (let i = 200; i < 1400; i++) {
      assert.ok(Math.abs(out[2 * i] - Math.sin((2 * Math.PI * 440 * i) / 16000)) < 2e-3);
      assert.ok(Math.abs(out[2 * i + 1] - 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 16000)) < 2e-3);
    }
  });

  it('a frame with another rate mid-stream is an invalid-frame error', async () => {
    const frames = [audioFrame(0, 48000, 1, new Float32Array(480)), audioFrame(10000, 44100, 1, new Float32Array(441))];
    await assert.rejects(collect(from(frames).pipe(resample({ toRate: 16000 }))), (e: unknown) => e instanceof CausewayError && e.code === 'invalid-frame');
  });

  it('stft equals the offline STFT, and stft -> istft is the identity on the source timeline', async () => {
    const o = { nFft: 512, hop: 128, window: 'sqrt-hann' as const, sampleRate: 16000 };
    const rand = rng(99);
    const x = randomSignal(16000, rand);
    const frames = framesOf(x, 16000, randomChunking(16000, rand, 0, 900));
    const specs = await collect(from(frames).pipe(stft(o)));
    const ref = stftOffline(x, o);
    assert.equal(specs.length, ref.length);
    specs.forEach((s, k) => assert.ok(maxAbsDiff(s.data, ref[k]) < 1e-4));
    const back = await collect(from(frames).pipe(stft(o), istft(o)));
    const y = concat(back);
    const lat = o.nFft - o.hop;
    // Output block k carries pts of source sample k*hop - latency: y[j] == x[j - latency].
    assert.equal(back[0].pts, Math.round((-lat * 1e6) / 16000));
    assert.ok(maxAbsDiff(y.subarray(lat), x.subarray(0, y.length - lat)) < 1e-5);
    assert.equal(pipelineLatency([stft(o), istft(o)]).latencyUs, Math.round((lat * 1e6) / 16000));
  });

  it('logMel equals the offline log-mel for random chunkings', async () => {
    const o = { sampleRate: 16000, nFft: 512, hop: 160, nMels: 40 };
    const rand = rng(5);
    const x = randomSignal(8000, rand);
    const mels = await collect(from(framesOf(x, 16000, randomChunking(8000, rand, 1, 500))).pipe(logMel(o)));
    const ref = logMelOffline(x, o);
    assert.equal(mels.length, ref.length);
    mels.forEach((mm, k) => assert.ok(maxAbsDiff(mm.data, ref[k]) < 1e-3, `frame ${k}`));
  });

  it('state is per subscription: two subscribers of one operator do not interfere', async () => {
    const op = resample({ toRate: 16000 });
    const src = new Subject<AudioFrame>();
    const a: AudioFrame[] = [];
    const b: AudioFrame[] = [];
    src.pipe(op).subscribe((f) => a.push(f));
    const x = randomSignal(4800, rng(3));
    src.next(framesOf(x, 48000, [2400])[0]);
    src.pipe(op).subscribe((f) => b.push(f));
    src.next(framesOf(x, 48000, [2400, 2400])[1]);
    src.complete();
    // b started mid-stream: its output is the resampling of the second half alone.
    const alone = concat(await collect(from(framesOf(x.slice(2400), 48000, [2400])).pipe(resample({ toRate: 16000 }))));
    assert.deepEqual(concat(b), alone);
    assert.equal(concat(a).length, 1600);
  });
});
