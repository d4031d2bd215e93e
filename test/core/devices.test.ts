/**
 * Models on onnxruntime-node's bundled WebGPU provider. On a machine without a GPU it runs on
 * Mesa's lavapipe (Vulkan on the CPU; scripts/setup.sh installs it), slowly but with the same
 * kernels, so the device path and its check are tested here and in CI.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { setLogSink } from '../../core/log.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { BinauralFlowStream, binauralFlowContract, conditioning } from '../../core/models/binaural-flow.js';
import { VideoWorldStream, readVideoWorldConfig } from '../../core/models/video-world.js';
import { CacheAwareStream, cacheAwareContract, readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { defaultSileroVadPath, sileroVadContract } from '../../core/models/silero-vad.js';
import { checkDevice } from '../../core/onnx/device-check.js';
import { cpuSession, loadSession } from '../../core/onnx/session.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { StepModel } from '../../core/onnx/step-model.js';
import { rng } from '../helpers-random.js';

const tinyBinauralFlow = fileURLToPath(new URL('../../../models/binaural-flow/tiny/step.onnx', import.meta.url));
const tinyVideoWorld = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));
const tinyCacheAware = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));

describe("core/onnx devices: 'webgpu' (onnxruntime-node's bundled provider)", function () {
  this.timeout(120_000);

  it('the tiny cache-aware model on WebGPU: passes the device check and streams the same log-probs as on the CPU (<= 1e-4)', async () => {
    const loaded = loadedModelCount();
    const gpu = await CacheAwareStream.open(tinyCacheAware, { device: 'webgpu' });
    const cpu = await CacheAwareStream.open(tinyCacheAware, { device: 'cpu' });
    try {
      assert.equal(gpu.provider, 'webgpu');
      const rand = rng(3);
      let worst = 0;
      for (let t = 0; t < 20; t++) {
        const f = Float32Array.from({ length: gpu.config.nMels }, () => rand() * 4 - 2);
        const a = await gpu.push(f);
        const b = await cpu.push(f);
        assert.equal(a === undefined, b === undefined);
        if (a && b) for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
      console.log(`      webgpu vs cpu, 20 frames: max abs difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
    assert.equal(loadedModelCount(), loaded);
  });

  it('the tiny binaural-flow model on WebGPU: passes the device check and matches the CPU step by step (within 1e-2 of its scale, the bound of its device check: sin and cos of large arguments are less exact there)', async () => {
    const gpu = await BinauralFlowStream.open(tinyBinauralFlow, { device: 'webgpu', seed: 1 });
    const cpu = await BinauralFlowStream.open(tinyBinauralFlow, { device: 'cpu', seed: 1 });
    try {
      assert.equal(gpu.provider, 'webgpu');
      const rand = rng(4);
      let worst = 0;
      let scale = 0;
      for (let t = 0; t < 6; t++) {
        const sp = Float32Array.from({ length: 514 }, () => rand() * 2 - 1);
        const cond = conditioning(40 * t, 0, 1.5, 0.2);
        await gpu.step(sp, cond);
        await cpu.step(sp, cond);
        for (let i = 0; i < 514; i++) {
          worst = Math.max(worst, Math.abs(gpu.left[i] - cpu.left[i]), Math.abs(gpu.right[i] - cpu.right[i]));
          scale = Math.max(scale, Math.abs(cpu.left[i]), Math.abs(cpu.right[i]));
        }
      }
      console.log(`      webgpu vs cpu, 6 frames: max abs difference ${worst.toExponential(2)} (values up to ${scale.toFixed(2)})`);
      assert.ok(worst <= binauralFlowContract(gpu.config).probe!.tolerance! * Math.max(1, scale), `max abs difference ${worst}`);
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
  });

  it('Silero VAD v5 is wrong on WebGPU: the device check catches it, and the model runs on the CPU with a warning and a metric', async () => {
    const silero = defaultSileroVadPath();
    // The check itself, on the two sessions: the provider's outputs really differ.
    const device = await loadSession(silero, { device: 'webgpu' });
    const cpu = await cpuSession(silero);
    try {
      const c = await checkDevice(device.session, cpu, sileroVadContract);
      console.log(`      Silero on webgpu: output '${c.output}' differs from the CPU's by ${c.maxDiff.toExponential(2)}`);
      assert.equal(c.ok, false);
    } finally {
      await device.session.release();
      await cpu.release();
    }
    const lines: string[] = [];
    const prev = setLogSink((_l, line) => lines.push(line));
    const before = await metricValue(sharedMetrics.deviceCheckFailures, { model: 'Silero VAD v5', provider: 'webgpu' });
    let model: StepModel | undefined;
    try {
      model = await StepModel.load(silero, sileroVadContract, { device: 'webgpu' });
    } finally {
      setLogSink(prev);
    }
    try {
      assert.equal(model.provider, 'cpu');
      assert.ok(lines.some((l) => /Silero VAD v5 .*not run on webgpu: its output .* differs from the CPU's .*running on the CPU/.test(l)), lines.join('\n'));
      assert.equal(await metricValue(sharedMetrics.deviceCheckFailures, { model: 'Silero VAD v5', provider: 'webgpu' }), before + 1);
      // And it answers as the CPU does.
      const state = model.newState();
      const input = new ort.Tensor('float32', Float32Array.from({ length: 576 }, (_, i) => 0.3 * Math.sin(i / 5)), [1, 576]);
      const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
      const ref = await StepModel.load(silero, sileroVadContract, { device: 'cpu' });
      const refState = ref.newState();
      try {
        const p = (await model.step({ input, sr }, state)).output.data as Float32Array;
        const q = (await ref.step({ input, sr }, refState)).output.data as Float32Array;
        assert.equal(p[0], q[0]);
      } finally {
        state.dispose();
        refState.dispose();
        await ref.dispose();
      }
    } finally {
      await model.dispose();
    }
  });

  it('a device model whose steps do not batch keeps its state on the device between steps (IO binding), streams what the CPU streams, and frees it in any order', async () => {
    const config = readCacheAwareConfig(tinyCacheAware);
    const contract = cacheAwareContract(config);
    const gpu = await StepModel.load(tinyCacheAware, contract, { device: 'webgpu', batch: { maxBatch: 1 } });
    const cpu = await StepModel.load(tinyCacheAware, contract, { device: 'cpu', thread: 'main' });
    let gpuDisposed = false;
    try {
      assert.equal(gpu.provider, 'webgpu');
      assert.equal(gpu.resident, true);
      const onGpu = gpu.newState();
      const other = gpu.newState();
      const onCpu = cpu.newState();
      const t = config.preEncode + config.chunk;
      const rand = rng(5);
      let worst = 0;
      for (let step = 0; step < 12; step++) {
        if (step === 6) {
          // A stream reset mid-way: both sides start again from zeros.
          onGpu.reset();
          onCpu.reset();
        }
        const feeds = () => ({
          audio_signal: new ort.Tensor('float32', Float32Array.from({ length: config.nMels * t }, () => rand() * 4 - 2), [1, config.nMels, t]),
          length: new ort.Tensor('int64', BigInt64Array.from([BigInt(t)]), [1]),
        });
        const f = feeds();
        const a = (await gpu.step(f, onGpu)).logprobs.data as Float32Array;
        const b = (await cpu.step(f, onCpu)).logprobs.data as Float32Array;
        await gpu.step(feeds(), other);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        for (const pair of contract.state) assert.equal(onGpu.get(pair.input).location, 'gpu-buffer', `${pair.input} after step ${step}`);
        assert.equal(onCpu.get('cache_last_channel').location, 'cpu');
      }
      console.log(`      resident state on webgpu vs cpu, 12 steps with a reset: max abs difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
      // The model goes first, with two states alive: it frees their device buffers before its session (the other order crashes the process).
      onCpu.dispose();
      await gpu.dispose();
      gpuDisposed = true;
      onGpu.dispose();
      other.dispose();
      await assert.rejects(gpu.step({}, gpu.newState()), /disposed|after dispose/);
    } finally {
      if (!gpuDisposed) await gpu.dispose();
      await cpu.dispose();
    }
  });

  it('a device model whose steps batch uploads the stacked state per batch: it is not resident', async () => {
    const model = await StepModel.load(tinyCacheAware, cacheAwareContract(readCacheAwareConfig(tinyCacheAware)), { device: 'webgpu' });
    try {
      assert.equal(model.provider, 'webgpu');
      assert.ok(model.batcher !== undefined);
      assert.equal(model.resident, false);
    } finally {
      await model.dispose();
    }
  });

  it("the video-world step on WebGPU, one stream: its key/value cache stays on the device from frame to frame, through wraps of the ring and a re-cache, and the frames equal the CPU's", async () => {
    const c = readVideoWorldConfig(tinyVideoWorld);
    // No batch option: on a GPU named explicitly the video-world stream keeps its cache resident by default.
    const gpu = await VideoWorldStream.open(tinyVideoWorld, { device: 'webgpu' });
    const cpu = await VideoWorldStream.open(tinyVideoWorld, { device: 'cpu' });
    try {
      assert.equal(gpu.provider, 'webgpu');
      assert.throws(() => gpu.cacheValues(), /device memory/);
      const rand = rng(6);
      const frame = () => Float32Array.from({ length: c.tokens * c.patchDim }, () => rand() * 2 - 1);
      const cond = () => Float32Array.from({ length: c.condDim }, () => rand());
      let worst = 0;
      const frames = 4 * (c.sinkFrames + c.windowFrames);
      for (let t = 0; t < frames; t++) {
        if (t === frames / 2) {
          const rewrite = (x: Float32Array) => void (x[0] += 1);
          await gpu.recache(rewrite);
          await cpu.recache(rewrite);
        }
        const f = frame();
        const k = cond();
        const a = await gpu.step(f, k);
        const b = await cpu.step(f, k);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
      console.log(`      video-world on webgpu (cache resident) vs cpu, ${frames} frames with a re-cache: max abs difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
  });
});
