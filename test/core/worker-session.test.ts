import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CausewayError } from '../../core/errors.js';
import { setLogSink } from '../../core/log.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { cacheAwareContract, readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { probeFeeds } from '../../core/onnx/device-check.js';
import { StepModel, type StepState } from '../../core/onnx/step-model.js';
import { WorkerSession } from '../../core/onnx/worker-session.js';

const tiny = join(fileURLToPath(new URL('../../../models/tiny-cache-aware/', import.meta.url)), 'step.onnx');
const contract = cacheAwareContract(readCacheAwareConfig(tiny));

function stepFeeds(k: number): Record<string, ort.Tensor> {
  const all = probeFeeds(contract);
  const feeds = Object.fromEntries(Object.entries(all).filter(([name]) => !contract.state.some((p) => p.input === name)));
  const x = feeds.audio_signal.data as Float32Array;
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.1 + k);
  return feeds;
}

describe('core/onnx/worker-session (CPU runs on a worker thread)', () => {
  it("a step model on its worker gives exactly what it gives on the main thread, step after step, batched or not", async () => {
    const onWorker = await StepModel.load(tiny, contract, { device: 'cpu', thread: 'worker' });
    const onMain = await StepModel.load(tiny, contract, { device: 'cpu', thread: 'main' });
    const states: StepState[] = [];
    try {
      assert.ok(onWorker.worker !== undefined);
      assert.equal(onMain.worker, undefined);
      const streams = 3;
      const w = Array.from({ length: streams }, () => onWorker.newState());
      const m = Array.from({ length: streams }, () => onMain.newState());
      states.push(...w, ...m);
      let compared = 0;
      for (let t = 0; t < 6; t++) {
        // All streams at once on the worker (they batch), one by one on the main thread.
        const fromWorker = await Promise.all(w.map((s, i) => onWorker.step(stepFeeds(t * 10 + i), s)));
        for (let i = 0; i < streams; i++) {
          const fromMain = await onMain.step(stepFeeds(t * 10 + i), m[i]);
          for (const name of Object.keys(fromMain)) {
            assert.deepEqual(Array.from(fromWorker[i][name].data as ArrayLike<number | bigint>), Array.from(fromMain[name].data as ArrayLike<number | bigint>), `step ${t}, stream ${i}, ${name}`);
            compared++;
          }
        }
      }
      assert.ok(compared > 0);
    } finally {
      for (const s of states) s.dispose();
      await onWorker.dispose();
      await onMain.dispose();
    }
  });

  it("a run that fails on the worker fails alone: the caller's feeds are intact and the next run succeeds", async () => {
    const session = await WorkerSession.start(tiny);
    try {
      const good = { ...probeFeeds(contract) };
      const bad = { ...good, audio_signal: new ort.Tensor('float32', new Float32Array(7), [1, 7, 1]) };
      await assert.rejects(session.run(bad), (e: Error) => e.message.length > 0);
      const before = Array.from(good.audio_signal.data as Float32Array);
      const out = await session.run(good);
      assert.ok(Object.keys(out).length > 0);
      // Feeds not handed over are copied, never moved: the caller still has them.
      assert.deepEqual(Array.from(good.audio_signal.data as Float32Array), before);
      // A handed feed's buffer moves to the worker.
      const handed = { ...good, audio_signal: new ort.Tensor('float32', Float32Array.from(before), good.audio_signal.dims) };
      await session.run(handed, new Set(['audio_signal']));
      assert.equal((handed.audio_signal.data as Float32Array).byteLength, 0, 'transferred, not copied');
    } finally {
      await session.release();
    }
  });

  it('a released session refuses runs (disposed); a file that is not a model, and a bad thread option, are clear errors', async () => {
    const session = await WorkerSession.start(tiny);
    await session.release();
    await assert.rejects(session.run(probeFeeds(contract)), (e: CausewayError) => e.code === 'disposed');
    const dir = mkdtempSync(join(tmpdir(), 'causeway-worker-'));
    try {
      const junk = join(dir, 'junk.onnx');
      writeFileSync(junk, 'not a model');
      await assert.rejects(WorkerSession.start(junk), (e: CausewayError) => e.code === 'model-invalid' && e.message.includes(junk));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(
      StepModel.load(tiny, contract, { device: 'cpu', thread: 'elsewhere' as 'main' }),
      (e: CausewayError) => e.code === 'invalid-argument' && /thread/.test(e.message),
    );
  });

  it('a worker that dies fails only its steps in flight: a new worker takes the next ones, with the same results; the third death within a minute is final', async () => {
    const model = await StepModel.load(tiny, contract, { device: 'cpu', thread: 'worker', batch: { maxBatch: 1 } });
    const reference = await StepModel.load(tiny, contract, { device: 'cpu', thread: 'main' });
    const lines: string[] = [];
    const prev = setLogSink((_l, line) => lines.push(line));
    const state = model.newState();
    const refState = reference.newState();
    const restartedBefore = await metricValue(sharedMetrics.workerDeaths, { model: contract.name, restarted: 'true' });
    try {
      const worker = model.worker!;
      const same = async (k: number) => {
        const a = await model.step(stepFeeds(k), state);
        const b = await reference.step(stepFeeds(k), refState);
        assert.deepEqual(Array.from(a.logprobs.data as Float32Array), Array.from(b.logprobs.data as Float32Array), `step ${k}`);
      };
      await same(0);
      for (let death = 1; death <= 2; death++) {
        // A step in flight when the worker dies fails, and leaves the stream's state as it was
        // (posted after the end began, so the worker never answers it, however loaded the machine).
        const killed = worker.killWorkerForTest();
        const inFlight = model.step(stepFeeds(100 + death), state);
        await killed;
        await assert.rejects(inFlight, (e: CausewayError) => e.code === 'model-run-failed' && /worker thread exited/.test(e.message));
        await same(death);
      }
      assert.equal(await metricValue(sharedMetrics.workerDeaths, { model: contract.name, restarted: 'true' }), restartedBefore + 2);
      assert.ok(lines.some((l) => /worker thread exited .*a new worker takes the next ones/.test(l)), lines.join('\n'));
      await worker.killWorkerForTest();
      await assert.rejects(model.step(stepFeeds(9), state), (e: CausewayError) => e.code === 'model-run-failed' && /not restarted/.test(e.message));
      assert.ok(lines.some((l) => /died too often/.test(l)), lines.join('\n'));
    } finally {
      setLogSink(prev);
      state.dispose();
      refState.dispose();
      await model.dispose();
      await reference.dispose();
    }
  });
});
