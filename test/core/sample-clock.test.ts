/**
 * Times across gaps: a live queue drops frames when it falls behind, and the events after the gap
 * must carry the time the audio was captured, not a time earlier by the audio that was dropped.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { asr } from '../../operators/asr/index.js';
import { vad } from '../../operators/vad.js';
import { audioFrame, type AudioFrame, type TimedEvent } from '../../core/frames.js';
import { SampleClock } from '../../core/sample-clock.js';
import { speechFixture } from '../fixtures-speech.js';
import { rng } from '../helpers-random.js';
import { librivoxUtterances } from '../wer.js';
import { collect, framesOf, from } from '../operators/frames-helpers.js';

const tiny = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));
const GAP = 1_000_000;

/** The same frames, those from `split` on moved 1 s later (as if 1 s of audio had been dropped there). */
function withGap(frames: AudioFrame[], split: number): AudioFrame[] {
  return frames.map((f) => (f.pts >= split ? audioFrame(f.pts + GAP, f.sampleRate, f.channels, f.data) : f));
}

function checkShifted(a: TimedEvent[], b: TimedEvent[], split: number): void {
  assert.equal(b.length, a.length, 'the same audio gives the same events');
  const moved = (t: number) => (t >= split ? t + GAP : t);
  let after = 0;
  a.forEach((e, i) => {
    assert.equal(b[i].startUs, moved(e.startUs), `event ${i} start`);
    assert.equal(b[i].endUs, moved(e.endUs), `event ${i} end`);
    if (e.startUs >= split) after++;
  });
  assert.ok(after >= 1, 'some events come after the gap');
}

describe('core/sample-clock (source times across gaps)', () => {
  it('maps sample indices to pts, anchoring only where the timeline jumps, and forgets old anchors', () => {
    const c = new SampleClock(16000);
    c.push(5000, 160); // 10 ms
    c.push(15000, 160); // contiguous
    c.push(1_025_000, 160); // 1 s later than predicted
    assert.equal(c.anchorCount, 2);
    assert.equal(c.toUs(0), 5000);
    assert.equal(c.toUs(200), 5000 + 12500);
    assert.equal(c.toUs(320), 1_025_000);
    assert.equal(c.toUs(400), 1_025_000 + 5000);
    c.forget(330);
    assert.equal(c.anchorCount, 1);
    assert.equal(c.toUs(400), 1_025_000 + 5000);
  });

  it('vad: events after a gap carry their capture times', async () => {
    const fx = speechFixture([0.5, 'first sentence here', 1.2, 'and the second one', 0.8], 16000);
    const frames = framesOf(fx.samples, 16000, Array(Math.ceil(fx.samples.length / 320)).fill(320).map((n, i) => Math.min(n, fx.samples.length - i * 320)));
    const split = Math.round(((fx.spans[0].end + fx.spans[1].start) / 2) * 1e6 / 20000) * 20000;
    const opts = { device: 'cpu' as const, queue: { capacity: 100_000 } };
    const a = await collect(from(frames).pipe(vad(opts)));
    const b = await collect(from(withGap(frames, split)).pipe(vad(opts)));
    checkShifted(a, b, split);
  });

  it('asr: events after a gap carry their capture times', async () => {
    const x = new Float32Array(16000 * 4);
    const rand = rng(1);
    // Bursts with quiet gaps (as in asr.test.ts), so the random model's finals fall on both sides of the gap.
    for (let i = 0; i < x.length; i++) {
      x[i] = Math.floor(i / 8000) % 2 === 0 ? 0.3 * Math.sin(i * 0.05 * (1 + Math.floor(i / 8000))) + 0.2 * (rand() - 0.5) : 0.001 * (rand() - 0.5);
    }
    const frames = framesOf(x, 16000, Array(200).fill(320));
    const opts = { engine: 'conformer' as const, model: tiny, device: 'cpu' as const, endpointMs: 200, queue: { capacity: 100_000 } };
    const a = await collect(from(frames).pipe(asr(opts)));
    const b = await collect(from(withGap(frames, 2_000_000)).pipe(asr(opts)));
    checkShifted(a, b, 2_000_000);
  });

  it('moonshine: finals after a gap carry their capture times', async () => {
    const clips = librivoxUtterances().slice(0, 2);
    const gap = new Float32Array(16000);
    const x = new Float32Array(gap.length * 3 + clips[0].samples.length + clips[1].samples.length);
    x.set(clips[0].samples, gap.length);
    x.set(clips[1].samples, gap.length * 2 + clips[0].samples.length);
    const frames = framesOf(x, 16000, Array(Math.ceil(x.length / 320)).fill(320).map((n, i) => Math.min(n, x.length - i * 320)));
    const split = Math.round(((gap.length * 1.5 + clips[0].samples.length) / 16000) * 50) * 20000;
    const opts = { engine: 'moonshine' as const, device: 'cpu' as const, queue: { capacity: 100_000 } };
    const finals = async (fs: AudioFrame[]) => (await collect(from(fs).pipe(asr(opts)))).filter((e) => e.type === 'final');
    checkShifted(await finals(frames), await finals(withGap(frames, split)), split);
  });
});
