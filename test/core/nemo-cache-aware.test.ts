import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CausewayError } from '../../core/errors.js';
import { CacheAwareStream, readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { defaultSileroVadPath } from '../../core/models/silero-vad.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { rng } from '../helpers-random.js';

const dir = fileURLToPath(new URL('../../../models/tiny-cache-aware/', import.meta.url));
const stepPath = join(dir, 'step.onnx');

/** Offline reference: the same weights over the whole utterance with the same limited-context mask. */
async function offline(melMajor: Float32Array, nMels: number, T: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(join(dir, 'offline.onnx'));
  const out = await s.run({ audio_signal: new ort.Tensor('float32', melMajor, [1, nMels, T]) });
  await s.release();
  return out.logprobs.data as Float32Array;
}

describe('core/models/nemo-cache-aware (NeMo export contract)', () => {
  it('reads the settings sidecar', () => {
    const c = readCacheAwareConfig(stepPath);
    assert.deepEqual(c, { nMels: 16, chunk: 4, preEncode: 2, layers: 2, leftContext: 8, dModel: 32, convCache: 4, vocab: 11, subsampling: 1, frontend: 'causeway' });
  });

  it('chunk-by-chunk streaming with caches equals the offline run on the whole utterance (<= 1e-4)', async () => {
    const stream = await CacheAwareStream.open(stepPath, { device: 'cpu' });
    const { nMels, vocab } = stream.config;
    for (const T of [37, 4, 1, 50]) {
      const rand = rng(T);
      const frames = Array.from({ length: T }, () => Float32Array.from({ length: nMels }, () => rand() * 4 - 2));
      const melMajor = new Float32Array(nMels * T);
      frames.forEach((f, t) => f.forEach((v, m) => (melMajor[m * T + t] = v)));
      const ref = await offline(melMajor, nMels, T);
      const got: number[] = [];
      for (const f of frames) {
        const lp = await stream.push(f);
        if (lp) got.push(...lp);
      }
      const tail = await stream.flush();
      if (tail) got.push(...tail);
      assert.equal(got.length, T * vocab, `T=${T}: one log-prob row per mel frame`);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
      assert.ok(worst <= 1e-4, `T=${T}: max abs difference ${worst}`);
      stream.reset();
    }
    stream.dispose();
    assert.equal(loadedModelCount(), 0);
  });

  it('the caches matter: dropping them between chunks changes the output', async () => {
    const stream = await CacheAwareStream.open(stepPath, { device: 'cpu' });
    const { nMels } = stream.config;
    const rand = rng(9);
    const frames = Array.from({ length: 8 }, () => Float32Array.from({ length: nMels }, () => rand() * 4 - 2));
    const withCache: number[] = [];
    for (const f of frames) withCache.push(...((await stream.push(f)) ?? []));
    stream.reset();
    const noCache: number[] = [];
    for (const [i, f] of frames.entries()) {
      if (i === 4) stream.reset();
      noCache.push(...((await stream.push(f)) ?? []));
    }
    stream.dispose();
    assert.deepEqual(noCache.slice(0, 44), withCache.slice(0, 44), 'first chunk identical');
    const diff = Math.max(...noCache.slice(44).map((v, i) => Math.abs(v - withCache[44 + i])));
    assert.ok(diff > 1e-3, `second chunk must depend on the cached past (diff ${diff})`);
  });

  it('without a sidecar the ONNX metadata is read; a wrong model or bad settings get an error naming the file and what was expected', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cw-nemo-'));
    const wrong = join(tmp, 'wrong.onnx');
    copyFileSync(defaultSileroVadPath(), wrong);
    writeFileSync(join(tmp, 'wrong.json'), JSON.stringify(readCacheAwareConfigRaw()));
    await assert.rejects(CacheAwareStream.open(wrong, { device: 'cpu' }), (e: unknown) => {
      assert.ok(e instanceof CausewayError && e.code === 'model-contract', String(e));
      assert.match(e.message, /NeMo cache-aware CTC .*wrong\.onnx.*missing input 'audio_signal'/);
      return true;
    });
    // Without a sidecar the same settings come from the ONNX file's own metadata, as in real NeMo exports.
    const lonely = join(tmp, 'lonely.onnx');
    copyFileSync(stepPath, lonely);
    assert.deepEqual(readCacheAwareConfig(lonely), readCacheAwareConfig(stepPath));
    (await CacheAwareStream.open(lonely, { device: 'cpu' })).dispose();
    // Neither a sidecar nor the metadata: the error says where it looked.
    const bare = join(tmp, 'bare.onnx');
    copyFileSync(defaultSileroVadPath(), bare);
    await assert.rejects(CacheAwareStream.open(bare, { device: 'cpu' }), /bare\.onnx: its ONNX metadata \(no .*bare\.json\) needs an integer 'window_size'/);
    writeFileSync(join(tmp, 'lonely.json'), JSON.stringify({ ...readCacheAwareConfigRaw(), chunk_shift: 'four' }));
    await assert.rejects(CacheAwareStream.open(lonely, { device: 'cpu' }), /needs an integer 'chunk_shift', got "four"/);
  });
});

function readCacheAwareConfigRaw(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'step.json'), 'utf8')) as Record<string, unknown>;
}
