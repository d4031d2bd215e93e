import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { GreedyTransducerSearch, ModifiedBeamSearch } from '../../kernels/transducer.js';
import { CausewayError } from '../../core/errors.js';
import {
  FBANK_SILENCE,
  readZipformerConfig,
  resolveZipformerFiles,
  ZipformerEncoderStream,
  ZipformerStream,
  type ZipformerOptions,
} from '../../core/models/zipformer2.js';
import { readOnnxMetadata } from '../../core/onnx/metadata.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { maxAbsDiff, rng } from '../helpers-random.js';

const models = fileURLToPath(new URL('../../../models/', import.meta.url));
const dir = join(models, 'tiny-zipformer2');
const F = 80;
const CHUNK = 16;
const PAD = 13;

/** Feature frames: noise around a level that moves, with stretches of digital silence so the search sees blanks. */
function features(n: number, seed: number): Float32Array[] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, t) =>
    Float32Array.from({ length: F }, () => (Math.floor(t / 37) % 3 === 2 ? FBANK_SILENCE : (rand() * 2 - 1) * 3 + Math.sin(t / 9))),
  );
}

function flat(frames: Float32Array[], total = frames.length): Float32Array {
  const x = new Float32Array(total * F).fill(FBANK_SILENCE);
  frames.forEach((f, t) => x.set(f, t * F));
  return x;
}

/** The offline graph: the same encoder weights over the whole input (n windows' worth: n*16 + 13 frames). */
async function offlineEncoder(x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(join(dir, 'offline.onnx'));
  const out = await s.run({ x: new ort.Tensor('float32', x, [1, x.length / F, F]) });
  await s.release();
  return out.encoder_out.data as Float32Array;
}

/**
 * Offline greedy transducer search, written from the algorithm's definition: per encoder frame,
 * joiner(frame, decoder(last 2 tokens)), argmax, emit unless blank (0) or <unk> (2), at most one
 * token per frame; start context [-1, 0]. Sessions are run directly, without Causeway's runtime.
 */
async function greedyOffline(enc: Float32Array): Promise<{ tokens: number[]; frames: number[]; score: number }> {
  const decoder = await ort.InferenceSession.create(join(dir, 'decoder.onnx'));
  const joiner = await ort.InferenceSession.create(join(dir, 'joiner.onnx'));
  const J = 16;
  let context = [-1, 0];
  const tokens: number[] = [];
  const frames: number[] = [];
  let score = 0;
  for (let t = 0; t < enc.length / J; t++) {
    const d = await decoder.run({ y: new ort.Tensor('int64', BigInt64Array.from(context.map(BigInt)), [1, 2]) });
    const j = await joiner.run({ encoder_out: new ort.Tensor('float32', enc.slice(t * J, (t + 1) * J), [1, J]), decoder_out: d.decoder_out });
    const logit = Array.from(j.logit.data as Float32Array);
    const best = logit.indexOf(Math.max(...logit));
    score += logit[best] - Math.log(logit.reduce((a, v) => a + Math.exp(v), 0));
    if (best !== 0 && best !== 2) {
      tokens.push(best);
      frames.push(t);
      context = [context[1], best];
    }
  }
  await decoder.release();
  await joiner.release();
  return { tokens, frames, score };
}

async function decodeAll(frames: Float32Array[], options: ZipformerOptions) {
  const s = await ZipformerStream.open(dir, { device: 'cpu', ...options });
  try {
    for (const f of frames) await s.push(f);
    await s.flush();
    return { ...s.hypothesis, tokens: [...s.hypothesis.tokens], framesSeen: s.framesSeen };
  } finally {
    s.dispose();
  }
}

/** Appends metadata entries (ModelProto field 14) to an ONNX file: protobuf fields may come in any order, a repeated key's last value wins. */
function withMetadata(src: string, dst: string, meta: Record<string, string>): void {
  const parts = [readFileSync(src)];
  const len = (n: number) => (n < 128 ? [n] : [(n % 128) | 0x80, Math.floor(n / 128)]);
  for (const [k, v] of Object.entries(meta)) {
    const body = Buffer.concat([Buffer.from([0x0a, ...len(k.length)]), Buffer.from(k), Buffer.from([0x12, ...len(v.length)]), Buffer.from(v)]);
    parts.push(Buffer.from([(14 << 3) | 2, ...len(body.length)]), body);
  }
  writeFileSync(dst, Buffer.concat(parts));
}

describe('core/models/zipformer2 (icefall/sherpa-onnx streaming transducer contract)', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'cw-zip-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('recognises the export by its metadata and derives every state shape from it', async () => {
    const loaded = loadedModelCount();
    const files = resolveZipformerFiles(dir);
    assert.deepEqual(files, { encoder: join(dir, 'encoder.onnx'), decoder: join(dir, 'decoder.onnx'), joiner: join(dir, 'joiner.onnx'), tokens: join(dir, 'tokens.txt') });
    const c = readZipformerConfig(files);
    assert.deepEqual(c, {
      featureDim: 80, window: 29, chunk: 16, layers: [1, 2], dims: [16, 24], kernels: [5, 3], left: [16, 8],
      queryHeadDims: [4, 4], valueHeadDims: [4, 4], heads: [2, 2], contextSize: 2, vocab: 16, joinerDim: 16,
    });
    const s = await ZipformerStream.open(dir, { device: 'cpu' });
    assert.equal(s.pieces[0], '<blk>');
    s.dispose();
    assert.equal(loadedModelCount(), loaded, 'all three sessions released');
  });

  it('a wrong model gets an error naming the file and what disagrees', async () => {
    const loaded = loadedModelCount();
    const contract = (re: RegExp) => (e: unknown) => {
      assert.ok(e instanceof CausewayError && e.code === 'model-contract', String(e));
      assert.match(e.message, re);
      return true;
    };
    const setup = (name: string, encoder: string) => {
      const d = join(tmp, name);
      mkdirSync(d);
      for (const f of ['decoder.onnx', 'joiner.onnx', 'tokens.txt']) copyFileSync(join(dir, f), join(d, f));
      copyFileSync(encoder, join(d, 'encoder.onnx'));
      return d;
    };
    // A NeMo cache-aware export passed as a zipformer: its metadata says what it is.
    const nemo = setup('nemo', join(models, 'tiny-cache-aware/step.onnx'));
    await assert.rejects(ZipformerStream.open(nemo, { device: 'cpu' }), contract(/zipformer2 encoder .*nemo\/encoder\.onnx: metadata model_type is "EncDecCTCModelBPE", expected "zipformer2" \(this looks like a NeMo export/));
    // zipformer2 metadata on a graph without the states: the names disagree.
    const noStates = setup('nostates', join(dir, 'offline.onnx'));
    withMetadata(join(dir, 'offline.onnx'), join(noStates, 'encoder.onnx'), readOnnxMetadata(join(dir, 'encoder.onnx')));
    await assert.rejects(ZipformerStream.open(noStates, { device: 'cpu' }), contract(/zipformer2 encoder \(.*nostates\/encoder\.onnx\): input 'x' has shape \[1, T, 80\], expected \[N, 29, 80\]|missing input 'cached_key_0'/));
    // Metadata that disagrees with the graph's state shapes.
    const dims = setup('dims', join(dir, 'encoder.onnx'));
    withMetadata(join(dir, 'encoder.onnx'), join(dims, 'encoder.onnx'), { encoder_dims: '16,32' });
    await assert.rejects(ZipformerStream.open(dims, { device: 'cpu' }), contract(/dims\/encoder\.onnx\): input 'cached_nonlin_attn_1' has shape \[1, N, 8, 18\], expected \[1, N, 8, 24\]/));
    const badList = setup('badlist', join(dir, 'encoder.onnx'));
    withMetadata(join(dir, 'encoder.onnx'), join(badList, 'encoder.onnx'), { num_heads: '2' });
    await assert.rejects(ZipformerStream.open(badList, { device: 'cpu' }), contract(/badlist\/encoder\.onnx: metadata lists 2 stacks in num_encoder_layers but 1 in heads/));
    const tokens = setup('tokens', join(dir, 'encoder.onnx'));
    writeFileSync(join(tokens, 'tokens.txt'), '<blk> 0\n<unk> 1\n');
    await assert.rejects(ZipformerStream.open(tokens, { device: 'cpu' }), contract(/tokens\.txt has 2 pieces, the decoder's vocab_size is 16/));
    const lonely = setup('lonely', join(dir, 'encoder.onnx'));
    rmSync(join(lonely, 'joiner.onnx'));
    await assert.rejects(ZipformerStream.open(lonely, { device: 'cpu' }), /lonely: no joiner\*\.onnx in the directory/);
    assert.equal(loadedModelCount(), loaded, 'failed opens release what they loaded');
  });

  it('streaming windows with all states equal the offline run on the whole input (<= 1e-4)', async () => {
    const files = resolveZipformerFiles(dir);
    const stream = await ZipformerEncoderStream.open(files, readZipformerConfig(files), { device: 'cpu' });
    let worst = 0;
    for (const [windows, seed] of [[1, 1], [6, 2], [13, 3]]) {
      const frames = features(windows * CHUNK + PAD, seed);
      const ref = await offlineEncoder(flat(frames));
      const got: number[] = [];
      for (const f of frames) got.push(...((await stream.push(f)) ?? []));
      assert.equal(got.length, windows * 4 * 16, `${windows} windows give ${windows * 4} encoder frames`);
      const diff = maxAbsDiff(got, ref);
      assert.ok(diff <= 1e-4, `${windows} windows: max abs difference ${diff}`);
      worst = Math.max(worst, diff);
      stream.reset();
    }
    // The end of a stream: frames past the last full window are run in windows padded with silence.
    for (const n of [5 * CHUNK + 3, 2 * CHUNK + PAD + 1, 7]) {
      const frames = features(n, n);
      const windows = Math.ceil(n / CHUNK);
      const ref = await offlineEncoder(flat(frames, windows * CHUNK + PAD));
      const got: number[] = [];
      for (const f of frames) got.push(...((await stream.push(f)) ?? []));
      got.push(...((await stream.flush()) ?? []));
      const diff = maxAbsDiff(got, ref);
      assert.ok(diff <= 1e-4, `n=${n} with flush: max abs difference ${diff}`);
      worst = Math.max(worst, diff);
      stream.reset();
    }
    stream.dispose();
    console.log(`      encoder streaming vs offline: max abs diff ${worst.toExponential(2)}`);
  });

  it('the states matter: the same window without the past gives another output', async () => {
    const files = resolveZipformerFiles(dir);
    const stream = await ZipformerEncoderStream.open(files, readZipformerConfig(files), { device: 'cpu' });
    const frames = features(2 * CHUNK + PAD, 9);
    const withPast: number[] = [];
    for (const f of frames) withPast.push(...((await stream.push(f)) ?? []));
    stream.reset();
    // A fresh stream started where the second window starts sees the same frames, without states.
    const fresh: number[] = [];
    for (const f of frames.slice(CHUNK)) fresh.push(...((await stream.push(f)) ?? []));
    stream.dispose();
    assert.equal(fresh.length, 64);
    const diff = maxAbsDiff(fresh, withPast.slice(64));
    assert.ok(diff > 1e-3, `the second window must depend on the cached past (diff ${diff})`);
  });

  it('greedy search equals an offline greedy transducer over the offline encoder output', async () => {
    for (const [n, seed] of [[9 * CHUNK + PAD, 4], [11 * CHUNK + 5, 5]]) {
      const frames = features(n, seed);
      const ref = await greedyOffline(await offlineEncoder(flat(frames, Math.ceil(n / CHUNK) * CHUNK + PAD)));
      const got = await decodeAll(frames, { decoding: 'greedy' });
      assert.ok(ref.tokens.length >= 5 && ref.tokens.length < got.framesSeen * 0.9, `a mix of tokens and blanks (${ref.tokens.length} tokens in ${got.framesSeen} frames)`);
      assert.deepEqual(got.tokens, ref.tokens);
      assert.deepEqual(got.frames, ref.frames);
      assert.ok(Math.abs(got.score - ref.score) < 1e-3, `score ${got.score} vs ${ref.score}`);
    }
  });

  it('modified beam search: beam 1 is greedy; beam 4 finds a hypothesis scoring at least greedy', async () => {
    let better = 0;
    for (const seed of [6, 7, 8]) {
      const frames = features(10 * CHUNK + PAD, seed);
      const greedy = await decodeAll(frames, { decoding: 'greedy' });
      const one = await decodeAll(frames, { decoding: 'modified-beam', beam: 1 });
      assert.deepEqual(one.tokens, greedy.tokens);
      assert.deepEqual(one.frames, greedy.frames);
      assert.ok(Math.abs(one.score - greedy.score) < 1e-9);
      const four = await decodeAll(frames, { decoding: 'modified-beam', beam: 4, lengthNorm: false });
      assert.ok(four.score >= greedy.score - 1e-9, `seed ${seed}: beam 4 ${four.score} < greedy ${greedy.score}`);
      if (four.score > greedy.score + 1e-6) better++;
      console.log(`      seed ${seed}: greedy ${greedy.score.toFixed(3)} (${greedy.tokens.length} tokens), beam 4 ${four.score.toFixed(3)} (${four.tokens.length} tokens)`);
    }
    assert.ok(better >= 1, 'beam 4 beats greedy somewhere (merged paths add probability)');
  });

  it('finals split the hypothesis without changing the decoding (the decoder keeps its context)', async () => {
    const frames = features(12 * CHUNK + PAD, 10);
    const whole = await decodeAll(frames, { decoding: 'greedy' });
    const s = await ZipformerStream.open(dir, { device: 'cpu' });
    const finals: number[][] = [];
    const at: number[][] = [];
    for (const [t, f] of frames.entries()) {
      await s.push(f);
      if (t % 50 === 49 && s.hypothesis.tokens.length > 0) {
        const fin = s.takeFinal();
        finals.push(fin.tokens);
        at.push(fin.frames);
        assert.equal(s.hypothesis.tokens.length, 0);
      }
    }
    await s.flush();
    finals.push(s.takeFinal().tokens);
    s.dispose();
    assert.ok(finals.length >= 3);
    assert.deepEqual(finals.flat(), whole.tokens);
    assert.deepEqual(at.flat(), whole.frames.slice(0, at.flat().length), 'token frames keep counting from the stream start');
  });
});

describe('kernels/transducer (search over synthetic logits)', () => {
  /** Logits that depend on the frame and the context, as a real decoder + joiner would. */
  const logitsFor = (t: number, context: readonly number[], vocab: number) =>
    Float32Array.from({ length: vocab }, (_, v) => Math.sin(1.3 * t + 2.1 * v + 0.7 * context[context.length - 1] + 0.3 * context[0]) * 2 + (v === 0 ? 0.5 : 0));

  function run(search: GreedyTransducerSearch | ModifiedBeamSearch, frames: number, vocab: number): void {
    for (let t = 0; t < frames; t++) {
      const ctx = search.contexts();
      const logits = new Float32Array(ctx.length * vocab);
      ctx.forEach((c, h) => logits.set(logitsFor(t, c, vocab), h * vocab));
      search.accept(logits);
    }
  }

  it('without pruning, beam search gives every token sequence its exact probability (paths log-added)', () => {
    const vocab = 3;
    const frames = 4;
    const beam = new ModifiedBeamSearch({ vocab, contextSize: 2, beam: vocab ** frames, lengthNorm: false });
    run(beam, frames, vocab);
    // Brute force: every path of one symbol (or blank) per frame, summed by resulting tokens.
    const exact = new Map<string, number>();
    const walk = (t: number, context: number[], tokens: number[], logp: number) => {
      if (t === frames) {
        exact.set(tokens.join(','), (exact.get(tokens.join(',')) ?? 0) + Math.exp(logp));
        return;
      }
      const l = Array.from(logitsFor(t, context, vocab));
      const z = Math.log(l.reduce((a, v) => a + Math.exp(v), 0));
      l.forEach((x, v) => (v === 0 ? walk(t + 1, context, tokens, logp + x - z) : walk(t + 1, [context[1], v], [...tokens, v], logp + x - z)));
    };
    walk(0, [-1, 0], [], 0);
    const hyps = beam.hypotheses;
    assert.equal(hyps.length, exact.size);
    for (const h of hyps) assert.ok(Math.abs(Math.exp(h.score) - exact.get(h.tokens.join(','))!) < 1e-9, h.tokens.join(','));
    assert.ok(Math.abs(hyps.reduce((a, h) => a + Math.exp(h.score), 0) - 1) < 1e-9, 'probabilities sum to 1');
  });

  it('greedy and beam-1 agree; trailing blanks count frames since the last token; unk is never emitted', () => {
    const vocab = 6;
    const g = new GreedyTransducerSearch({ vocab, contextSize: 2, unk: 3 });
    const b = new ModifiedBeamSearch({ vocab, contextSize: 2, unk: 3, beam: 1 });
    run(g, 60, vocab);
    run(b, 60, vocab);
    assert.deepEqual(b.hypothesis.tokens, g.hypothesis.tokens);
    assert.ok(g.hypothesis.tokens.length > 3 && !g.hypothesis.tokens.includes(3) && !g.hypothesis.tokens.includes(0));
    const last = g.hypothesis.frames[g.hypothesis.frames.length - 1];
    assert.equal(g.trailingBlanks, 59 - last);
    assert.equal(b.trailingBlanks, g.trailingBlanks);
  });
});
