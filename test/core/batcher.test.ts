import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { histogramCount, metricValue, sharedMetrics } from '../../core/metrics.js';
import { BinauralFlowStream, conditioning } from '../../core/models/binaural-flow.js';
import { CacheAwareStream } from '../../core/models/nemo-cache-aware.js';
import { SileroStream } from '../../core/models/silero-vad.js';
import { adjacentViews, concatAlong, splitAlong, StepBatcher } from '../../core/onnx/batcher.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { rng } from '../helpers-random.js';

const tinyBinauralFlow = fileURLToPath(new URL('../../../models/binaural-flow/tiny/step.onnx', import.meta.url));
const tinyCacheAware = join(fileURLToPath(new URL('../../../models/tiny-cache-aware/', import.meta.url)), 'step.onnx');

/** Offline reference of the tiny cache-aware model: the whole utterance at once. */
async function offline(frames: Float32Array[], nMels: number): Promise<Float32Array> {
  const T = frames.length;
  const melMajor = new Float32Array(nMels * T);
  frames.forEach((f, t) => f.forEach((v, k) => (melMajor[k * T + t] = v)));
  const s = await ort.InferenceSession.create(tinyCacheAware.replace('step.onnx', 'offline.onnx'));
  try {
    return (await s.run({ audio_signal: new ort.Tensor('float32', melMajor, [1, nMels, T]) })).logprobs.data as Float32Array;
  } finally {
    await s.release();
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('core/onnx/batcher (steps of many streams in one run)', () => {
  it('concatAlong and splitAlong are inverse along any axis', () => {
    const rand = rng(1);
    for (const axis of [0, 1, 2]) {
      const parts = [1, 3, 2].map((n) => {
        const dims = [2, 3, 4];
        dims[axis] = n;
        const size = dims.reduce((a, b) => a * b, 1);
        return new ort.Tensor('float32', Float32Array.from({ length: size }, () => rand()), dims);
      });
      const whole = concatAlong(parts, axis);
      assert.equal(whole.dims[axis], 6);
      const back = splitAlong(whole, axis, [1, 3, 2]);
      back.forEach((t, i) => {
        assert.deepEqual(t.dims, parts[i].dims);
        assert.deepEqual(t.data, parts[i].data);
      });
    }
    // Along axis 1 of [2, B, 2]: each outer row holds every part's rows in turn.
    const a = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 1, 2]);
    const b = new ort.Tensor('float32', Float32Array.from([5, 6, 7, 8]), [2, 1, 2]);
    assert.deepEqual(Array.from(concatAlong([a, b], 1).data as Float32Array), [1, 2, 5, 6, 3, 4, 7, 8]);
  });

  it('adjacentViews: the rows of one output, in order, are that output again (no copy); any other order or buffer is not', () => {
    const whole = new ort.Tensor('float32', Float32Array.from({ length: 6 * 5 }, (_, i) => i), [6, 5]);
    const rows = splitAlong(whole, 0, [1, 2, 1, 2]);
    const again = adjacentViews(rows, 0) as Float32Array;
    assert.equal(again.buffer, (whole.data as Float32Array).buffer);
    assert.deepEqual(Array.from(again), Array.from(whole.data as Float32Array));
    // A part of them, in order, is the span they cover.
    assert.deepEqual(Array.from(adjacentViews(rows.slice(1, 3), 0) as Float32Array), Array.from({ length: 15 }, (_, i) => 5 + i));
    assert.equal(adjacentViews([rows[1], rows[0], rows[2]], 0), undefined);
    assert.equal(adjacentViews([rows[0], rows[2]], 0), undefined);
    assert.equal(adjacentViews([rows[0], new ort.Tensor('float32', new Float32Array(10), [2, 5])], 0), undefined);
    // Stacked along an inner axis of [2, B, ...], rows of one output are not adjacent.
    const inner = splitAlong(new ort.Tensor('float32', new Float32Array(2 * 3 * 2), [2, 3, 2]), 1, [1, 2]);
    assert.equal(adjacentViews(inner, 1), undefined);
  });

  it('Silero VAD: 6 streams of different audio, starting at different times, batched, equal each stream run alone (<= 1e-5)', async () => {
    const loaded = loadedModelCount();
    const before = (await histogramCount(sharedMetrics.batchSize, { model: 'Silero VAD v5' }));
    const streams = 6;
    const windows = 40;
    const signals = Array.from({ length: streams }, (_, s) => {
      const rand = rng(10 + s);
      // Noise bursts and tones, different per stream, so the states differ.
      return Array.from({ length: windows }, (_, w) => Float32Array.from({ length: 512 }, (_, i) => (w % (3 + s) < 2 ? 0.3 * Math.sin((i * (s + 1)) / 7) : 0) + 0.05 * (rand() * 2 - 1)));
    });
    const run = async (batch: { maxBatch: number }): Promise<number[][]> => {
      const opened = await Promise.all(signals.map(() => SileroStream.open(16000, { device: 'cpu', batch })));
      try {
        return await Promise.all(
          opened.map(async (s, k) => {
            // Stream k joins k windows late: batches mix streams at different phases.
            for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
            const p: number[] = [];
            for (const w of signals[k]) p.push(await s.probability(w));
            return p;
          }),
        );
      } finally {
        for (const s of opened) s.dispose();
      }
    };
    const alone = await run({ maxBatch: 1 });
    const batched = await run({ maxBatch: 32 });
    const runs = (await histogramCount(sharedMetrics.batchSize, { model: 'Silero VAD v5' })) - before;
    let worst = 0;
    for (let k = 0; k < streams; k++) worst = Math.max(worst, maxDiff(batched[k], alone[k]));
    console.log(`      ${streams} x ${windows} steps in ${runs} runs batched; max abs difference from alone ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-5, `max abs difference ${worst}`);
    assert.ok(runs < (streams * windows) / 2, `the steps should share runs: ${runs} runs for ${streams * windows} steps`);
    assert.ok(alone.some((p) => p.some((v) => v > 0.5)) || alone.some((p) => Math.max(...p) - Math.min(...p) > 0.01), 'the probabilities must vary (a constant output would match vacuously)');
    assert.equal(loadedModelCount(), loaded);
  });

  it('cache-aware ASR (tiny model): streams of different lengths and phases, batched, each equals the offline graph on its own utterance (<= 1e-4)', async () => {
    const loaded = loadedModelCount();
    const lengths = [37, 12, 50, 5, 29];
    const opened = await Promise.all(lengths.map(() => CacheAwareStream.open(tinyCacheAware, { device: 'cpu' })));
    const before = (await histogramCount(sharedMetrics.batchSize, { model: 'NeMo cache-aware CTC' }));
    try {
      const { nMels, vocab } = opened[0].config;
      const inputs = lengths.map((T, k) => {
        const rand = rng(100 + k);
        return Array.from({ length: T }, () => Float32Array.from({ length: nMels }, () => rand() * 4 - 2));
      });
      const got = await Promise.all(
        opened.map(async (s, k) => {
          for (let i = 0; i < 2 * k; i++) await new Promise((r) => setImmediate(r));
          const out: number[] = [];
          for (const f of inputs[k]) out.push(...((await s.push(f)) ?? []));
          out.push(...((await s.flush()) ?? []));
          return out;
        }),
      );
      const runs = (await histogramCount(sharedMetrics.batchSize, { model: 'NeMo cache-aware CTC' })) - before;
      for (let k = 0; k < lengths.length; k++) {
        const ref = await offline(inputs[k], nMels);
        assert.equal(got[k].length, lengths[k] * vocab);
        const d = maxDiff(got[k], ref);
        assert.ok(d <= 1e-4, `stream ${k} (T=${lengths[k]}): max abs difference ${d}`);
      }
      const steps = lengths.reduce((n, T) => n + Math.ceil(T / 4), 0);
      console.log(`      ${lengths.length} streams, ${steps} steps in ${runs} runs`);
      assert.ok(runs < steps, `the steps should share runs: ${runs} runs for ${steps} steps`);
    } finally {
      for (const s of opened) s.dispose();
    }
    assert.equal(loadedModelCount(), loaded);
  });

  it('binaural-flow (tiny model): 4 streams at different positions and seeds, batched, equal each stream run alone (<= 1e-4: batched convolutions sum in another order)', async () => {
    const loaded = loadedModelCount();
    const frames = 12;
    const spectra = (k: number) => {
      const rand = rng(200 + k);
      return Array.from({ length: frames }, () => Float32Array.from({ length: 514 }, () => rand() * 2 - 1));
    };
    const run = async (batch: { maxBatch: number }) => {
      const opened = await Promise.all([0, 1, 2, 3].map((k) => BinauralFlowStream.open(tinyBinauralFlow, { device: 'cpu', seed: k, batch })));
      try {
        return await Promise.all(
          opened.map(async (s, k) => {
            for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
            const out: number[] = [];
            for (const sp of spectra(k)) {
              await s.step(sp, conditioning(90 * k, 10 * k, 1 + k, k / 4));
              out.push(...s.left, ...s.right);
            }
            return out;
          }),
        );
      } finally {
        for (const s of opened) s.dispose();
      }
    };
    const before = (await histogramCount(sharedMetrics.batchSize, { model: 'Causeway binaural-flow' }));
    const alone = await run({ maxBatch: 1 });
    const batched = await run({ maxBatch: 32 });
    const runs = (await histogramCount(sharedMetrics.batchSize, { model: 'Causeway binaural-flow' })) - before;
    let worst = 0;
    for (let k = 0; k < 4; k++) worst = Math.max(worst, maxDiff(batched[k], alone[k]));
    console.log(`      4 x ${frames} steps in ${runs} runs; max abs difference from alone ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
    assert.ok(runs < 4 * frames, `the steps should share runs: ${runs} runs`);
    assert.equal(loadedModelCount(), loaded);
  });

  it("a failed batched run is retried step by step: only the bad step fails, the others get their own results", async () => {
    // The run function stands in for a session beside the real ones above: it fails whenever a
    // poisoned row is in its batch, so the failure and the retry can be placed exactly.
    const calls: number[] = [];
    const run = async (feeds: Record<string, ort.Tensor>) => {
      const x = feeds.x.data as Float32Array;
      calls.push(x.length);
      if (x.includes(-1)) throw new Error('poisoned');
      return { y: new ort.Tensor('float32', x.map((v) => 2 * v), [...feeds.x.dims]) };
    };
    const b = new StepBatcher(run, new Map([['x', 0], ['y', 0]]), 'test');
    const feed = (v: number) => ({ x: new ort.Tensor('float32', Float32Array.from([v, v]), [1, 2]) });
    const retries = (await metricValue(sharedMetrics.batchRetries, { model: 'test' }));
    const results = await Promise.allSettled([1, 2, -1, 4].map((v) => b.submit(feed(v))));
    assert.deepEqual(calls, [8, 2, 2, 2, 2], 'one batch of 4, then each step alone');
    assert.equal((await metricValue(sharedMetrics.batchRetries, { model: 'test' })), retries + 1, 'the retry is counted, not silent');
    assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? Array.from(r.value.y.data as Float32Array) : (r.reason as Error).message)), [[2, 2], [4, 4], 'poisoned', [8, 8]]);
  });

  it('maxWaitMs holds a batch that is not full until more steps come', async () => {
    const sizes: number[] = [];
    const run = async (feeds: Record<string, ort.Tensor>) => {
      sizes.push(feeds.x.dims[0]);
      return { y: feeds.x };
    };
    const b = new StepBatcher(run, new Map([['x', 0], ['y', 0]]), 'test', { maxWaitMs: 10_000, maxBatch: 3 });
    const feed = () => ({ x: new ort.Tensor('float32', new Float32Array(1), [1, 1]) });
    const first = b.submit(feed());
    // Wait on the condition: the first step is held (queued, no run) however long this takes.
    while (b.waiting !== 1) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sizes, [], 'held for company');
    const rest = [b.submit(feed()), b.submit(feed())];
    await Promise.all([first, ...rest]);
    assert.deepEqual(sizes, [3], 'the batch ran as soon as it was full');
  });
});
