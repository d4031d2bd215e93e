/**
 * device 'auto': measured cost per batch size decides where steps run. The measurement runs for
 * real here on lavapipe's WebGPU (named in CAUSEWAY_AUTO_DEVICES, since this machine has no GPU
 * device node), where the CPU wins at every size; the routing of large batches to a device is
 * shown with the route given explicitly, beside that real measurement.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { setLogSink } from '../../core/log.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { cacheAwareContract, readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { autoBatchSizes, autoCandidates, deviceFromBatch } from '../../core/onnx/auto-device.js';
import { probeFeeds } from '../../core/onnx/device-check.js';
import { cpuSession, cudaProviderInstalled, loadSession } from '../../core/onnx/session.js';
import { StepModel, type StepState } from '../../core/onnx/step-model.js';
import { rng } from '../helpers-random.js';

const tiny = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));
const contract = cacheAwareContract(readCacheAwareConfig(tiny));

function withEnv<T>(value: string | undefined, f: () => Promise<T>): Promise<T> {
  const prev = process.env.CAUSEWAY_AUTO_DEVICES;
  if (value === undefined) delete process.env.CAUSEWAY_AUTO_DEVICES;
  else process.env.CAUSEWAY_AUTO_DEVICES = value;
  return f().finally(() => {
    if (prev === undefined) delete process.env.CAUSEWAY_AUTO_DEVICES;
    else process.env.CAUSEWAY_AUTO_DEVICES = prev;
  });
}

/** One stream's non-state feeds for a step: the probe's shapes, this stream's own features. */
function stepFeeds(rand: () => number): Record<string, ort.Tensor> {
  const feeds = probeFeeds(contract);
  for (const p of contract.state) delete feeds[p.input];
  const a = feeds.audio_signal;
  feeds.audio_signal = new ort.Tensor('float32', Float32Array.from({ length: a.data.length }, () => rand() * 4 - 2), a.dims as number[]);
  return feeds;
}

describe("core/onnx device 'auto': by measured cost, per batch size", function () {
  this.timeout(180_000);

  it('picks the smallest batch size from which the device wins at every larger one; the sizes and the candidates', () => {
    const sizes = [1, 2, 4, 8, 16, 32];
    assert.equal(deviceFromBatch(sizes, [1, 2, 4, 8, 16, 32], [9, 9, 9, 9, 9, 9]), 16);
    assert.equal(deviceFromBatch(sizes, [1, 2, 4, 8, 16, 32], [0.5, 9, 9, 9, 9, 9]), 16, 'a win at batch 1 alone does not count past a loss');
    assert.equal(deviceFromBatch(sizes, [1, 2, 4, 8, 16, 32], [0.5, 1, 2, 4, 8, 16]), 1);
    assert.equal(deviceFromBatch(sizes, [1, 2, 4, 8, 16, 32], [9, 9, 9, 9, 9, 33]), null);
    assert.deepEqual(autoBatchSizes(32, true), [1, 2, 4, 8, 16, 32]);
    assert.deepEqual(autoBatchSizes(12, true), [1, 2, 4, 8, 12]);
    assert.deepEqual(autoBatchSizes(32, false), [1]);
    assert.deepEqual(autoBatchSizes(Infinity, true), [1, 2, 4, 8, 16, 32, 64, 128, 256], 'an unbounded maxBatch is timed up to 256');
    assert.deepEqual(autoCandidates({ CAUSEWAY_AUTO_DEVICES: 'webgpu, cuda' }), ['webgpu', 'cuda']);
    assert.deepEqual(autoCandidates({ CAUSEWAY_AUTO_DEVICES: 'none' }), []);
    assert.throws(() => autoCandidates({ CAUSEWAY_AUTO_DEVICES: 'tpu' }), /CAUSEWAY_AUTO_DEVICES: unknown device 'tpu'/);
    // WebGPU is a default candidate only where a GPU device node exists; without one (this machine, CI) it could only be lavapipe.
    const gpuNode = existsSync('/dev/nvidiactl') || readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n)) || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => /^renderD\d+$/.test(n)));
    assert.deepEqual(autoCandidates({}), gpuNode ? ['cuda', 'webgpu'] : ['cuda']);
  });

  it('measures WebGPU (lavapipe) against the CPU at batch 1..32, finds it slower at every size and keeps the steps on the CPU, saying so', async () => {
    const lines: string[] = [];
    const prev = setLogSink((_l, line) => lines.push(line));
    let model: StepModel | undefined;
    try {
      model = await withEnv('webgpu', () => StepModel.load(tiny, contract, { device: 'auto' }));
    } finally {
      setLogSink(prev);
    }
    try {
      assert.equal(model.provider, 'cpu');
      assert.equal(model.route, undefined);
      assert.equal(await metricValue(sharedMetrics.provider, { model: tiny, provider: 'webgpu' }), 0, 'the released candidate is not reported as in use');
      assert.equal(await metricValue(sharedMetrics.provider, { model: tiny, provider: 'cpu' }), 1);
      const line = lines.find((l) => /auto: steps stay on the CPU, webgpu is not faster at any batch size/.test(l));
      assert.ok(line, lines.join('\n'));
      for (const b of [1, 2, 4, 8, 16, 32]) assert.match(line, new RegExp(`batch ${b}: cpu \\d+\\.\\d+ ms, webgpu \\d+\\.\\d+ ms`));
      console.log(`      ${line.replace(/^.*\(batch 1/, '(batch 1')}`);
    } finally {
      await model.dispose();
    }
  });

  it('without candidates that start, says CUDA is unavailable and runs on the CPU (a metric counts it)', async () => {
    const lines: string[] = [];
    const prev = setLogSink((_l, line) => lines.push(line));
    const before = await metricValue(sharedMetrics.providerFallbacks, { model: tiny });
    let model: StepModel | undefined;
    try {
      model = await withEnv('cuda', () => StepModel.load(tiny, contract, { device: 'auto' }));
    } finally {
      setLogSink(prev);
    }
    try {
      if (cudaProviderInstalled()) {
        // A machine with CUDA's libraries (the GPU check machine): CUDA was measured and a decision logged.
        assert.ok(lines.some((l) => /auto: (steps stay on the CPU, cuda is not faster|batches of \d+ or more run on cuda)/.test(l)), lines.join('\n'));
      } else {
        assert.equal(model.provider, 'cpu');
        assert.ok(lines.some((l) => /CUDA unavailable \(onnxruntime-node was installed without its CUDA provider libraries\); falling back to CPU/.test(l)), lines.join('\n'));
        assert.equal(await metricValue(sharedMetrics.providerFallbacks, { model: tiny }), before + 1);
      }
    } finally {
      await model.dispose();
    }
  });

  it('with a route, batches of fromBatch steps and more run on the device and lone steps on the CPU; each stream gets what it gets alone', async () => {
    const device = await loadSession(tiny, { device: 'webgpu' });
    const routed = await StepModel.fromSessions(await cpuSession(tiny), contract, 'cpu', tiny, {}, { session: device.session, provider: 'webgpu', fromBatch: 2 });
    const alone = await StepModel.load(tiny, contract, { device: 'cpu', batch: { maxBatch: 1 } });
    const states: StepState[] = [];
    try {
      const runs = () => Promise.all([metricValue(sharedMetrics.modelRuns, { model: contract.name, provider: 'cpu' }), metricValue(sharedMetrics.modelRuns, { model: contract.name, provider: 'webgpu' })]);
      const rand = rng(5);
      const streams = 3;
      const mine = Array.from({ length: streams }, () => routed.newState());
      const ref = Array.from({ length: streams }, () => alone.newState());
      states.push(...mine, ...ref);
      let worst = 0;
      for (let t = 0; t < 4; t++) {
        const feeds = Array.from({ length: streams }, () => stepFeeds(rand));
        const [cpu0, gpu0] = await runs();
        // All three together: one batch of 3 >= fromBatch, on the device.
        const got = await Promise.all(feeds.map((f, i) => routed.step(f, mine[i])));
        const [cpu1, gpu1] = await runs();
        assert.deepEqual([cpu1 - cpu0, gpu1 - gpu0], [0, 1], `step ${t}: one run, on webgpu`);
        for (let i = 0; i < streams; i++) {
          const want = await alone.step(feeds[i], ref[i]);
          for (const [name, w] of Object.entries(want)) {
            const g = got[i][name].data as Float32Array;
            const wd = w.data as Float32Array;
            if (!(wd instanceof Float32Array)) continue;
            for (let k = 0; k < wd.length; k++) worst = Math.max(worst, Math.abs(g[k] - wd[k]));
          }
        }
      }
      // A lone stream's step: batch 1 < fromBatch, on the CPU.
      const [cpu0, gpu0] = await runs();
      await routed.step(stepFeeds(rand), mine[0]);
      const [cpu1, gpu1] = await runs();
      assert.deepEqual([cpu1 - cpu0, gpu1 - gpu0], [1, 0]);
      console.log(`      3 streams, 4 steps batched on webgpu vs each alone on the CPU: max abs difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
    } finally {
      for (const s of states) s.dispose();
      await routed.dispose();
      await alone.dispose();
    }
  });
});
