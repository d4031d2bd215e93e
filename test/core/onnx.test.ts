import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CausewayError } from '../../core/errors.js';
import { setLogSink } from '../../core/log.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { defaultSileroVadPath, sileroVadContract, SileroStream } from '../../core/models/silero-vad.js';
import { loadSession, cudaProviderInstalled } from '../../core/onnx/session.js';
import { StepModel } from '../../core/onnx/step-model.js';
import { acquireModel, loadedModelCount } from '../../core/onnx/shared-models.js';
import { rng, randomSignal } from '../helpers-random.js';

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CausewayError, `expected CausewayError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe('core/onnx runtime', () => {
  const silero = defaultSileroVadPath();
  const legacy = join(dirname(silero), 'silero_vad_legacy.onnx');

  it('loads Silero v5 from the npm package and checks it against its contract', async () => {
    const model = await StepModel.load(silero, sileroVadContract, { device: 'cpu' });
    assert.equal(model.provider, 'cpu');
    assert.deepEqual([...model.session.inputNames].sort(), ['input', 'sr', 'state']);
    await model.dispose();
  });

  it('a wrong model gets an error naming the model and the tensor', async () => {
    // Silero v4 ("legacy") has h/c state inputs instead of v5's single `state`.
    await rejectsWith(StepModel.load(legacy, sileroVadContract, { device: 'cpu' }), 'model-contract', /Silero VAD v5 .*silero_vad_legacy\.onnx.*'state'/);
  });

  it('a contract with the wrong fixed dim is refused with the expected and actual shapes', async () => {
    const bad = { ...sileroVadContract, inputs: sileroVadContract.inputs.map((s) => (s.name === 'state' ? { ...s, shape: [2, 'batch', 64] } : s)) };
    await rejectsWith(StepModel.load(silero, bad, { device: 'cpu' }), 'model-contract', /'state' has shape \[2, \?, 128\], expected \[2, batch, 64\]/);
  });

  it('missing and non-ONNX files get clear errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-onnx-'));
    await rejectsWith(loadSession(join(dir, 'nope.onnx'), { device: 'cpu' }), 'model-not-found', /nope\.onnx/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'this is not a model');
    await rejectsWith(loadSession(junk, { device: 'cpu' }), 'model-invalid', /junk\.onnx is not a valid ONNX model/);
  });

  it("device 'cuda' fails loudly when CUDA is absent; 'auto' falls back to CPU with a log line and a metric", async function () {
    if (cudaProviderInstalled()) {
      // On a CUDA install the same calls must report CUDA; this branch is what a GPU machine checks.
      const s = await loadSession(silero, { device: 'cuda' });
      assert.equal(s.provider, 'cuda');
      await s.session.release();
      return;
    }
    await rejectsWith(loadSession(silero, { device: 'cuda' }), 'provider-unavailable', /CUDA execution provider is unavailable.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
    const lines: string[] = [];
    const prev = setLogSink((_l, line) => lines.push(line));
    const before = await metricValue(sharedMetrics.providerFallbacks, { model: silero });
    try {
      const s = await loadSession(silero, { device: 'auto' });
      assert.equal(s.provider, 'cpu');
      await s.session.release();
    } finally {
      setLogSink(prev);
    }
    assert.ok(lines.some((l) => /CUDA unavailable.*falling back to CPU/.test(l)), lines.join('\n'));
    assert.equal(await metricValue(sharedMetrics.providerFallbacks, { model: silero }), before + 1);
  });

  it('wrong feeds are refused before running, naming the tensor', async () => {
    const model = await StepModel.load(silero, sileroVadContract, { device: 'cpu' });
    const state = model.newState();
    const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
    await assert.rejects(model.step({ input: new ort.Tensor('float32', new Float32Array(576), [576]), sr }, state), /feed 'input' has shape \[576\], expected \[batch, samples\]/);
    await assert.rejects(model.step({ sr }, state), /missing feed 'input'/);
    state.dispose();
    await model.dispose();
  });

  it('streams sharing one session keep separate state; interleaving them changes nothing', async () => {
    const loaded = loadedModelCount();
    const rand = rng(7);
    const a = randomSignal(512 * 20, rand).map((v) => v * 0.3);
    const b = randomSignal(512 * 20, rand).map((v) => v * 0.05);
    const solo = async (x: Float32Array) => {
      const s = await SileroStream.open(16000, { device: 'cpu' });
      const out: number[] = [];
      for (let i = 0; i < x.length; i += 512) out.push(await s.probability(x.subarray(i, i + 512)));
      s.dispose();
      return out;
    };
    const pa = await solo(a);
    const pb = await solo(b);
    const sa = await SileroStream.open(16000, { device: 'cpu' });
    const sb = await SileroStream.open(16000, { device: 'cpu' });
    try {
      assert.equal(loadedModelCount(), loaded + 1, 'one shared session for both streams');
      const ia: number[] = [];
      const ib: number[] = [];
      for (let i = 0; i < a.length; i += 512) {
        const [x, y] = await Promise.all([sa.probability(a.subarray(i, i + 512)), sb.probability(b.subarray(i, i + 512))]);
        ia.push(x);
        ib.push(y);
      }
      assert.deepEqual(ia, pa);
      assert.deepEqual(ib, pb);
    } finally {
      sa.dispose();
      sb.dispose();
    }
    assert.equal(loadedModelCount(), loaded, 'session released with the last stream');
  });

  it('a second step in flight on the same stream is refused (state order is kept)', async () => {
    const lease = await acquireModel(silero, sileroVadContract, { device: 'cpu' });
    const state = lease.model.newState();
    try {
      const feeds = { input: new ort.Tensor('float32', new Float32Array(576), [1, 576]), sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []) };
      const first = lease.model.step(feeds, state);
      await assert.rejects(lease.model.step(feeds, state), /already in flight/);
      await first;
    } finally {
      state.dispose();
      lease.release();
    }
  });
});
