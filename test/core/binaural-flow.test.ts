import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { BinauralFlowStream, FlowNoise, conditioning, defaultBinauralFlowModel, readBinauralFlowConfig } from '../../core/models/binaural-flow.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { rng } from '../helpers-random.js';

const tinyDir = fileURLToPath(new URL('../../../models/binaural-flow/tiny/', import.meta.url));

/**
 * The step graph frame by frame (its buffer bank carried as StepState) against the offline graph
 * over the whole sequence, fed the same spectra, conditioning and noise draws.
 */
async function streamVsOffline(stepPath: string, T: number, seed: number): Promise<{ worst: number; scale: number; bankMatters: number }> {
  const stream = await BinauralFlowStream.open(stepPath, { device: 'cpu', seed });
  const { bins, unetBins } = stream.config;
  const rand = rng(T * 7 + seed);
  // Speech-like spectra: a decaying spectral envelope with random phases, varying level.
  const spectra = Array.from({ length: T }, (_, t) => {
    const s = new Float32Array(2 * bins);
    const level = 0.2 + 3 * rand() * (1 + Math.sin(t / 3));
    for (let k = 0; k < bins; k++) {
      const a = (level * (rand() + 0.1)) / (1 + k / 20);
      const p = 2 * Math.PI * rand();
      s[2 * k] = a * Math.cos(p);
      s[2 * k + 1] = k === 0 || k === bins - 1 ? 0 : a * Math.sin(p);
    }
    return s;
  });
  // A moving source: a new conditioning every frame.
  const conds = Array.from({ length: T }, (_, t) => conditioning(30 + 11 * t, 10 * Math.sin(t / 5), 1 + 0.05 * t, t % 2 === 0 ? 0 : 0.6));
  const mono = new Float32Array(2 * bins * T), cond = new Float32Array(6 * T), noise = new Float32Array(4 * unetBins * T);
  const draws = new FlowNoise(seed);
  const frame = new Float32Array(4 * unetBins);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < bins; k++) {
      mono[k * T + t] = spectra[t][2 * k];
      mono[(bins + k) * T + t] = spectra[t][2 * k + 1];
    }
    for (let j = 0; j < 6; j++) cond[j * T + t] = conds[t][j];
    draws.fill(frame);
    for (let j = 0; j < 4 * unetBins; j++) noise[j * T + t] = frame[j];
  }
  const off = await ort.InferenceSession.create(join(stepPath, '..', 'offline.onnx'));
  const ref = (await off.run({
    mono: new ort.Tensor('float32', mono, [1, 2, bins, T]),
    cond: new ort.Tensor('float32', cond, [1, 6, T]),
    noise: new ort.Tensor('float32', noise, [1, 4, unetBins, T]),
  })).binaural.data as Float32Array;
  await off.release();
  let worst = 0, scale = 0, bankMatters = 0;
  for (let t = 0; t < T; t++) {
    await stream.step(spectra[t], conds[t]);
    for (let k = 0; k < bins; k++) {
      const got = [stream.left[2 * k], stream.left[2 * k + 1], stream.right[2 * k], stream.right[2 * k + 1]];
      for (let c = 0; c < 4; c++) {
        const r = ref[(c * bins + k) * T + t];
        worst = Math.max(worst, Math.abs(got[c] - r));
        scale = Math.max(scale, Math.abs(r));
      }
    }
  }
  // The same last frame with an empty bank (a fresh stream whose noise is advanced to it):
  // differs, so the buffers carry the past.
  const fresh = await BinauralFlowStream.open(stepPath, { device: 'cpu', seed });
  const skip = new Float32Array(4 * unetBins);
  const skipNoise = new FlowNoise(seed);
  for (let t = 0; t < T - 1; t++) skipNoise.fill(skip);
  (fresh as unknown as { noise: FlowNoise }).noise = skipNoise;
  await fresh.step(spectra[T - 1], conds[T - 1]);
  for (let i = 0; i < fresh.left.length; i++) bankMatters = Math.max(bankMatters, Math.abs(fresh.left[i] - stream.left[i]));
  fresh.dispose();
  stream.dispose();
  return { worst, scale, bankMatters };
}

describe('core/models/binaural-flow (neural binaural renderer contract)', () => {
  it('reads the settings sidecar', () => {
    const c = readBinauralFlowConfig(join(tinyDir, 'step.onnx'));
    assert.equal(c.sampleRate, 48000);
    assert.equal(c.nFft, 512);
    assert.equal(c.hop, 256);
    assert.equal(c.bins, 257);
    assert.equal(c.unetBins, 256);
    assert.equal(c.evaluations, 2 * (c.schedule.length - 1), 'one buffer set per solver evaluation: 2 per midpoint step');
    assert.ok(c.receptiveField > 1);
    assert.equal(c.outputGain, 1, 'no output_gain key: 1');
    assert.equal(readBinauralFlowConfig(defaultBinauralFlowModel()).outputGain, 0.140397, "the shipped model's: peak over frontal HRTF scaling");
  });

  for (const [name, path] of [['tiny random-weight model', () => join(tinyDir, 'step.onnx')], ['shipped trained model', defaultBinauralFlowModel]] as const) {
    it(`${name}: the step graph frame by frame with its buffer bank equals the offline graph on the whole sequence (<= 1e-4)`, async () => {
      const loaded = loadedModelCount();
      for (const [T, seed] of [[40, 1], [7, 2]] as const) {
        const r = await streamVsOffline(path(), T, seed);
        console.log(`      ${name}, ${T} frames: max abs diff ${r.worst.toExponential(2)} (output up to ${r.scale.toFixed(2)}); last frame with an empty bank differs by ${r.bankMatters.toExponential(2)}`);
        assert.ok(r.worst <= 1e-4, `T=${T}: max abs difference ${r.worst}`);
        assert.ok(r.bankMatters > 1e-3, `the buffer bank must carry the past (an empty bank changed the last frame by only ${r.bankMatters})`);
      }
      assert.equal(loadedModelCount(), loaded);
    });
  }

  it('FlowNoise: seeded, standard normal, reset replays', () => {
    const a = new FlowNoise(5).fill(new Float32Array(20000));
    const n = new FlowNoise(5);
    assert.deepEqual(n.fill(new Float32Array(20000)), a);
    n.reset();
    assert.deepEqual(n.fill(new Float32Array(20000)), a);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, variance ${variance}`);
    assert.notDeepEqual(new FlowNoise(6).fill(new Float32Array(100)), a.subarray(0, 100));
  });

  it('a wrong-shaped model is a model-contract error naming the tensor', async () => {
    const loaded = loadedModelCount();
    const dir = mkdtempSync(join(tmpdir(), 'cw-bflow-'));
    try {
      copyFileSync(join(tinyDir, 'step.onnx'), join(dir, 'step.onnx'));
      const meta = JSON.parse(readFileSync(join(tinyDir, 'step.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'step.json'), JSON.stringify({ ...meta, bank_size: (meta.bank_size as number) + 1 }));
      await assert.rejects(BinauralFlowStream.open(join(dir, 'step.onnx'), { device: 'cpu' }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'model-contract');
        assert.match(e.message, /'bank'/);
        return true;
      });
      writeFileSync(join(dir, 'step.json'), JSON.stringify({ ...meta, model_type: 'something-else' }));
      await assert.rejects(BinauralFlowStream.open(join(dir, 'step.onnx'), { device: 'cpu' }), /model_type/);
      for (const gain of [0, -1, 'loud']) {
        writeFileSync(join(dir, 'step.json'), JSON.stringify({ ...meta, output_gain: gain }));
        await assert.rejects(BinauralFlowStream.open(join(dir, 'step.onnx'), { device: 'cpu' }), /output_gain/);
      }
      // Another model's graph under a valid sidecar: Silero-like names are not ours.
      copyFileSync(fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url)), join(dir, 'step.onnx'));
      writeFileSync(join(dir, 'step.json'), JSON.stringify(meta));
      await assert.rejects(BinauralFlowStream.open(join(dir, 'step.onnx'), { device: 'cpu' }), (e: Error & { code?: string }) => e.code === 'model-contract' && /missing input 'mono'/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(loadedModelCount(), loaded);
  });
});
