import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import { audioFrame, type AudioFrame, type VadEvent } from '../../core/frames.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { vad } from '../../operators/vad.js';
import { randomChunking, rng } from '../helpers-random.js';
import { speechFixture, type SpeechFixture } from '../fixtures-speech.js';
import { collect, framesOf, from } from './frames-helpers.js';
import { until } from '../wait.js';

const opts = { device: 'cpu' as const, minSilenceMs: 300, queue: { capacity: 1_000_000 } };

function segments(events: VadEvent[]): { start: number; end: number }[] {
  return events.filter((e) => e.type === 'speech-end').map((e) => ({ start: e.startUs / 1e6, end: e.endUs / 1e6 }));
}

describe('operators/vad (Silero VAD v5, real model)', function () {
  let fx: SpeechFixture;
  before(() => {
    fx = speechFixture([1.0, 'The quick brown fox jumps over the lazy dog', 1.5, 'Streaming models keep their state', 1.2]);
  });

  it('finds each spoken sentence, with start and end times matching the speech in the file', async () => {
    const events = await collect(from(framesOf(fx.samples, 16000, randomChunking(fx.samples.length, rng(1), 160, 960))).pipe(vad(opts)));
    const segs = segments(events);
    assert.equal(segs.length, fx.spans.length, `segments ${JSON.stringify(segs)} vs speech ${JSON.stringify(fx.spans)}`);
    segs.forEach((s, i) => {
      const t = fx.spans[i];
      assert.ok(Math.abs(s.start - t.start) <= 0.15, `segment ${i} starts at ${s.start}, speech at ${t.start}`);
      assert.ok(Math.abs(s.end - t.end) <= 0.3, `segment ${i} ends at ${s.end}, speech at ${t.end}`);
    });
    // Events alternate start/end, and each end repeats its start.
    for (let i = 0; i < events.length; i += 2) {
      assert.equal(events[i].type, 'speech-start');
      assert.equal(events[i + 1].type, 'speech-end');
      assert.equal(events[i + 1].startUs, events[i].startUs);
    }
  });

  it('gives the same events for any chunking of the input, in the source timeline', async () => {
    const run = async (seed: number, startPts: number) =>
      collect(from(framesOf(fx.samples, 16000, randomChunking(fx.samples.length, rng(seed), 0, 3000), 1, startPts)).pipe(vad(opts)));
    const a = await run(2, 0);
    const b = await run(3, 0);
    const strip = (es: VadEvent[]) => es.map((e) => ({ type: e.type, startUs: e.startUs, endUs: e.endUs }));
    assert.deepEqual(strip(b), strip(a));
    const shifted = await run(4, 5_000_000);
    assert.deepEqual(
      strip(shifted),
      strip(a).map((e) => ({ ...e, startUs: e.startUs + 5_000_000, endUs: e.endUs + 5_000_000 })),
    );
  });

  it('finds nothing in silence and low noise', async () => {
    const rand = rng(11);
    const noise = new Float32Array(16000 * 3).map(() => (rand() - 0.5) * 0.002);
    const events = await collect(from(framesOf(noise, 16000, randomChunking(noise.length, rand, 320, 320))).pipe(vad(opts)));
    assert.deepEqual(events, []);
  });

  it('refuses frames that are not mono 16 kHz with a clear error', async () => {
    const bad = [audioFrame(0, 48000, 1, new Float32Array(960))];
    await assert.rejects(collect(from(bad).pipe(vad(opts))), (e: unknown) => {
      assert.ok(e instanceof CausewayError);
      assert.equal(e.code, 'invalid-frame');
      assert.match(e.message, /mono 16000 Hz.*48000 Hz.*resample/);
      return true;
    });
  });

  it('releases the model when unsubscribed mid-stream, and when it errors', async () => {
    // Relative to what is loaded already, so a model another test leaked does not fail this one too.
    const loaded = loadedModelCount();
    const src = new Subject<AudioFrame>();
    const sub = src.pipe(vad(opts)).subscribe();
    try {
      for (const f of framesOf(fx.samples, 16000, Array(50).fill(320))) src.next(f);
      // The load takes milliseconds idle and seconds on a busy machine: wait for it, not for a fixed time.
      await until('the model to load', 60_000, () => loadedModelCount() === loaded + 1, () => `${loadedModelCount()} loaded, ${loaded} before`);
    } finally {
      sub.unsubscribe();
    }
    await until('the model to be released after teardown', 30_000, () => loadedModelCount() === loaded, () => `${loadedModelCount()} loaded, ${loaded} before`);
    await assert.rejects(collect(from([audioFrame(0, 16000, 2, new Float32Array(640))]).pipe(vad(opts))));
    await until('the model to be released after an error', 30_000, () => loadedModelCount() === loaded, () => `${loadedModelCount()} loaded, ${loaded} before`);
  });
});
