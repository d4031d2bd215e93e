/**
 * The video-world step contract on a tiny random-weight model (models/video-world/tiny): the
 * streaming step over the rolling sink + window cache equals the offline sequence graph, through
 * many wraps of the ring; a re-cache equals a fresh recompute of the held frames; streams batch.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { sinkWindowFrames } from '../../kernels/sink-kv-cache.js';
import { ModelError } from '../../core/errors.js';
import { distanceMatrix, readVideoWorldConfig, VideoWorldStream, type VideoWorldConfig } from '../../core/models/video-world.js';
import { cpuSession } from '../../core/onnx/session.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { rng } from '../helpers-random.js';

const tiny = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));
/** The trained model Causeway ships (models/video-world/make.sh). */
const shipped = fileURLToPath(new URL('../../../models/video-world/model/step.onnx', import.meta.url));

function randomFrames(c: VideoWorldConfig, n: number, rand: () => number): { frames: Float32Array[]; cond: Float32Array[] } {
  const frames = Array.from({ length: n }, () => Float32Array.from({ length: c.tokens * c.patchDim }, () => rand() * 2 - 1));
  const cond = Array.from({ length: n }, () => Float32Array.from({ length: c.condDim }, () => rand() * 2 - 1));
  return { frames, cond };
}

/** The offline graph over a whole sequence: next_frames, all_k, all_v. */
async function offline(model: string, c: VideoWorldConfig, frames: Float32Array[], cond: Float32Array[], distance: BigInt64Array): Promise<Record<string, Float32Array>> {
  const s = await cpuSession(model.replace(/step\.onnx$/, 'offline.onnx'));
  try {
    const n = frames.length;
    const f = new Float32Array(n * c.tokens * c.patchDim);
    frames.forEach((x, i) => f.set(x, i * x.length));
    const k = new Float32Array(n * c.condDim);
    cond.forEach((x, i) => k.set(x, i * x.length));
    const out = await s.run({
      frames: new ort.Tensor('float32', f, [1, n, c.tokens, c.patchDim]),
      cond: new ort.Tensor('float32', k, [1, n, c.condDim]),
      distance: new ort.Tensor('int64', distance, [n, n]),
    });
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
  } finally {
    await s.release();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const [name, model] of [['tiny random', tiny], ['shipped', shipped]] as const) describe(`core/models video-world: step contract on the ${name} model`, function () {
  this.timeout(120_000);
  const c = readVideoWorldConfig(model);

  it(`streaming over the ring (S=${c.sinkFrames}, W=${c.windowFrames}) equals the offline sequence graph, frame by frame, through 12 wraps (<= 1e-4)`, async () => {
    const n = c.sinkFrames + 12 * c.windowFrames + 2;
    const { frames, cond } = randomFrames(c, n, rng(7));
    const want = await offline(model, c, frames, cond, distanceMatrix(n, c.sinkFrames, c.windowFrames));
    const s = await VideoWorldStream.open(model, { device: 'cpu' });
    try {
      let worst = 0;
      let scale = 0;
      const size = c.tokens * c.patchDim;
      for (let i = 0; i < n; i++) {
        const got = await s.step(frames[i], cond[i]);
        const ref = want.next_frames.subarray(i * size, (i + 1) * size);
        worst = Math.max(worst, maxDiff(got, ref));
        for (const x of ref) scale = Math.max(scale, Math.abs(x));
      }
      console.log(`      ${n} frames: max abs difference ${worst.toExponential(2)} (outputs up to ${scale.toFixed(2)})`);
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
      assert.equal(s.frames, n);
      // The rule matters: the same frames offline with no sink (a plain window of S + W) differ.
      const all = await offline(model, c, frames, cond, distanceMatrix(n, 0, c.sinkFrames + c.windowFrames));
      assert.ok(maxDiff(all.next_frames, want.next_frames) > 1e-2, 'a different visibility changes the output');
    } finally {
      s.dispose();
    }
  });

  it('a re-cache under new conditioning equals a fresh recompute of the held frames, and steps go on from it', async () => {
    const n = c.sinkFrames + 3 * c.windowFrames + 1;
    const { frames, cond } = randomFrames(c, n, rng(8));
    const s = await VideoWorldStream.open(model, { device: 'cpu' });
    try {
      for (let i = 0; i < n; i++) await s.step(frames[i], cond[i]);
      const held = sinkWindowFrames(n, c.sinkFrames, c.windowFrames);
      const rewrite = (x: Float32Array) => {
        x[0] += 1;
      };
      await s.recache(rewrite);
      const newCond = held.map((f) => {
        const x = cond[f].slice();
        rewrite(x);
        return x;
      });
      const fresh = await offline(model, c, held.map((f) => frames[f]), newCond, distanceMatrix(held.length, held.length, 1));
      const per = c.tokens * c.d;
      const order = s.cache.slotsInOrder();
      assert.deepEqual(order.map((slot) => s.cache.frameOf[slot]), held);
      let worst = 0;
      const { keys, values } = s.cacheValues();
      order.forEach((slot, i) => {
        for (let l = 0; l < c.layers; l++) {
          const at = s.cache.offset(l, slot);
          const ref = (i * c.layers + l) * per;
          worst = Math.max(worst, maxDiff(keys.subarray(at, at + per), fresh.all_k.subarray(ref, ref + per)));
          worst = Math.max(worst, maxDiff(values.subarray(at, at + per), fresh.all_v.subarray(ref, ref + per)));
        }
      });
      console.log(`      re-cache of ${held.length} held frames vs a fresh recompute: max abs difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
      // Independently of how the re-cache was computed: the next step equals the offline graph over
      // [the held frames, in order, under the new conditioning; then the new frame], each seeing all before it.
      const extra = randomFrames(c, 1, rng(10));
      const next = await s.step(extra.frames[0], extra.cond[0]);
      const m = held.length;
      const ref = await offline(model, c, [...held.map((f) => frames[f]), extra.frames[0]], [...newCond, extra.cond[0]], distanceMatrix(m + 1, m + 1, 1));
      const size = c.tokens * c.patchDim;
      const after = maxDiff(next, ref.next_frames.subarray(m * size, (m + 1) * size));
      assert.ok(after <= 1e-4, `the step after the re-cache vs offline: ${after}`);
      // Without the re-cache the step would differ: the conditioning matters.
      const stale = await offline(model, c, [...held.map((f) => frames[f]), extra.frames[0]], [...held.map((f) => cond[f]), extra.cond[0]], distanceMatrix(m + 1, m + 1, 1));
      assert.ok(maxDiff(next, stale.next_frames.subarray(m * size, (m + 1) * size)) > 1e-3);
    } finally {
      s.dispose();
    }
  });

});

describe('core/models video-world: positions, batching and refusals (tiny model)', function () {
  this.timeout(120_000);
  const c = readVideoWorldConfig(tiny);

  it('distanceMatrix: each visible frame at its distance in cache order, the frame itself at 0, the rest -1', () => {
    // S = 1, W = 2: frame 4 sees frames 0 (sink), 2, 3 at positions 0, 1, 2 and sits at 3.
    const d = distanceMatrix(5, 1, 2);
    assert.deepEqual([...d.subarray(20, 25)].map(Number), [3, -1, 2, 1, 0]);
    assert.deepEqual([...d.subarray(0, 5)].map(Number), [0, -1, -1, -1, -1]);
    for (let q = 0; q < 5; q++) assert.equal([...d.subarray(q * 5, q * 5 + 5)].filter((x) => x > 0n).length, sinkWindowFrames(q, 1, 2).length);
  });

  it('three streams at different phases batch their steps and each equals itself run alone (<= 1e-4); wrong input is refused', async () => {
    const loaded = loadedModelCount();
    const rand = rng(9);
    const streams = await Promise.all([0, 1, 2].map(() => VideoWorldStream.open(tiny, { device: 'cpu' })));
    const alone = await Promise.all([0, 1, 2].map(() => VideoWorldStream.open(tiny, { device: 'cpu', batch: { maxBatch: 1 } })));
    try {
      for (let i = 0; i < 3; i++) for (let k = 0; k < i * 2; k++) {
        const { frames, cond } = randomFrames(c, 1, rand);
        await streams[i].step(frames[0], cond[0]);
        await alone[i].step(frames[0], cond[0]);
      }
      let worst = 0;
      for (let t = 0; t < 6; t++) {
        const inputs = [0, 1, 2].map(() => randomFrames(c, 1, rand));
        const got = await Promise.all(streams.map((s, i) => s.step(inputs[i].frames[0], inputs[i].cond[0]).then((x) => x.slice())));
        for (let i = 0; i < 3; i++) worst = Math.max(worst, maxDiff(got[i], await alone[i].step(inputs[i].frames[0], inputs[i].cond[0])));
      }
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
      await assert.rejects(streams[0].step(new Float32Array(3), new Float32Array(c.condDim)), /a frame needs 16 x 192 = 3072 values, got 3/);
      await assert.rejects(VideoWorldStream.open(fileURLToPath(new URL('../../../models/binaural-flow/tiny/step.onnx', import.meta.url))), (e: unknown) => e instanceof ModelError && /model_type/.test(e.message));
    } finally {
      for (const s of [...streams, ...alone]) s.dispose();
    }
    assert.equal(loadedModelCount(), loaded);
  });
});
