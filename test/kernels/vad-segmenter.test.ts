import assert from 'node:assert/strict';
import { VadSegmenter, segmentOffline, type SegmenterOptions } from '../../kernels/vad-segmenter.js';
import { rng } from '../helpers-random.js';

function runStreaming(probs: number[], o: SegmenterOptions): { start: number; end: number }[] {
  const seg = new VadSegmenter(o);
  const out: { start: number; end: number }[] = [];
  let open: number | undefined;
  const on = (e: { kind: string; start: number; end?: number }) => {
    if (e.kind === 'start') {
      assert.equal(open, undefined, 'start while a segment is open');
      open = e.start;
    } else {
      assert.equal(e.start, open, 'end names the open segment start');
      out.push({ start: e.start, end: e.end! });
      open = undefined;
    }
  };
  for (const p of probs) seg.push(p, on);
  seg.flush(on);
  assert.equal(open, undefined);
  return out;
}

describe('kernels/vad-segmenter', () => {
  const base: SegmenterOptions = { window: 512, startThreshold: 0.5, endThreshold: 0.35, minSpeech: 4000, minSilence: 1600, pad: 480 };

  it('finds a clean segment with padding', () => {
    const probs = [...Array(10).fill(0.02), ...Array(20).fill(0.9), ...Array(10).fill(0.02)];
    const segs = runStreaming(probs, base);
    assert.deepEqual(segs, [{ start: 10 * 512 - 480, end: 30 * 512 + 480 }]);
  });

  it('ignores blips shorter than minSpeech and short dips shorter than minSilence', () => {
    const probs = [...Array(5).fill(0), 0.9, 0.9, 0.1, ...Array(5).fill(0), ...Array(12).fill(0.9), 0.1, 0.1, ...Array(12).fill(0.9), ...Array(6).fill(0)];
    const segs = runStreaming(probs, base);
    assert.equal(segs.length, 1, JSON.stringify(segs));
    assert.equal(segs[0].start, 13 * 512 - 480);
  });

  it('hysteresis: values between the thresholds keep speech going', () => {
    const probs = [...Array(3).fill(0), ...Array(10).fill(0.9), ...Array(30).fill(0.4), ...Array(5).fill(0)];
    const segs = runStreaming(probs, base);
    assert.deepEqual(segs, [{ start: 3 * 512 - 480, end: 43 * 512 + 480 }]);
  });

  it('cuts segments at maxSpeech', () => {
    const probs = [...Array(100).fill(0.9)];
    const segs = runStreaming(probs, { ...base, pad: 0, maxSpeech: 30 * 512 });
    assert.ok(segs.length >= 3);
    for (const s of segs) assert.ok(s.end - s.start <= 30 * 512);
    for (let i = 1; i < segs.length; i++) assert.equal(segs[i].start, segs[i - 1].end);
  });

  it('streaming equals the offline scan on random probability sequences', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = rng(seed);
      const n = 20 + Math.floor(rand() * 300);
      // Runs of similar values, like real VAD output.
      const probs: number[] = [];
      let level = rand();
      for (let i = 0; i < n; i++) {
        if (rand() < 0.15) level = rand();
        probs.push(Math.min(1, Math.max(0, level + (rand() - 0.5) * 0.3)));
      }
      const w = 256 + Math.floor(rand() * 512);
      const o: SegmenterOptions = {
        window: w,
        startThreshold: 0.4 + rand() * 0.3,
        endThreshold: 0.1 + rand() * 0.25,
        minSpeech: Math.floor(rand() * 8 * w),
        minSilence: Math.floor(rand() * 8 * w),
        pad: Math.floor(rand() * 2 * w),
        maxSpeech: rand() < 0.3 ? Math.floor((4 + rand() * 40) * w) : undefined,
      };
      assert.deepEqual(runStreaming(probs, o), segmentOffline(probs, o), `seed ${seed}`);
    }
  });
});
