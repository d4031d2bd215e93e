/**
 * The asr operator's zipformer engine (Kaldi fbank -> zipformer2 encoder windows with states ->
 * transducer search -> events) on the tiny random-weight model in the icefall/sherpa-onnx
 * contract: texts are meaningless, but the properties are not: any chunking of the audio gives the
 * same events, greedy partials only grow, finals close what the partials said, and the finals
 * together are what the model decodes from the offline fbank of the whole signal.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { kaldiFbankOffline } from '../../kernels/fbank.js';
import { piecesToText } from '../../kernels/ctc.js';
import { CausewayError } from '../../core/errors.js';
import { ZipformerStream } from '../../core/models/zipformer2.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { asr, type AsrEvent, type AsrOptions } from '../../operators/asr/index.js';
import { randomChunking, rng } from '../helpers-random.js';
import { assertEventSequence, burstSignal, stripAsrEvents } from './asr-helpers.js';
import { collect, framesOf, from } from './frames-helpers.js';

const model = fileURLToPath(new URL('../../../models/tiny-zipformer2', import.meta.url));

function run(x: Float32Array, sizes: number[], o: Partial<AsrOptions> = {}): Promise<AsrEvent[]> {
  return collect(from(framesOf(x, 16000, sizes, 1, 1_000_000)).pipe(asr({ engine: 'zipformer', model, device: 'cpu', endpointMs: 200, queue: { capacity: 100_000 }, ...o })));
}

describe('operators/asr (zipformer engine, icefall/sherpa-onnx zipformer2 contract)', () => {
  it('gives the same events for any chunking; partials only grow; finals close them', async () => {
    const loaded = loadedModelCount();
    const x = burstSignal(4, 1, 0);
    const a = await run(x, randomChunking(x.length, rng(2), 0, 3000));
    const b = await run(x, randomChunking(x.length, rng(3), 0, 400));
    const c = await run(x, [x.length]);
    assert.deepEqual(stripAsrEvents(b), stripAsrEvents(a));
    assert.deepEqual(stripAsrEvents(c), stripAsrEvents(a));
    assert.ok(a.filter((e) => e.type === 'final').length >= 3, 'finals at endpoints during the stream, not only at its end');
    assertEventSequence(a, 1_000_000, 5_000_000);
    assert.equal(loadedModelCount(), loaded, 'models released at teardown');

    // The finals together are the greedy decoding of the offline fbank of the whole signal.
    const s = await ZipformerStream.open(model, { device: 'cpu' });
    for (const f of kaldiFbankOffline(x)) await s.push(f);
    await s.flush();
    const whole = piecesToText(s.pieces, s.hypothesis.tokens);
    s.dispose();
    const finals = a.filter((e) => e.type === 'final').map((e) => e.text);
    assert.equal(finals.join(' ').replace(/\s+/g, ' '), whole);
  });

  it('modified beam search: the same events for any chunking', async () => {
    const x = burstSignal(3, 4, 0);
    const a = await run(x, randomChunking(x.length, rng(5), 0, 2000), { decoding: 'modified-beam', beam: 4 });
    const b = await run(x, randomChunking(x.length, rng(6), 0, 500), { decoding: 'modified-beam', beam: 4 });
    assert.deepEqual(stripAsrEvents(b), stripAsrEvents(a));
    assert.ok(a.some((e) => e.type === 'final' && e.text.length > 0));
  });

  it('declares the window geometry as latency and look-ahead', () => {
    const op = asr({ engine: 'zipformer', model, device: 'cpu' });
    // decode_chunk_len 16 frames of 10 ms; 13 overlap frames plus the fbank's 200 samples.
    assert.deepEqual(op.info, { name: 'asr', latencyUs: 160_000, lookaheadUs: 130_000 + 12_500 });
  });

  it('refuses non-16 kHz audio and a directory without the model', async () => {
    await assert.rejects(
      collect(from(framesOf(new Float32Array(4800), 48000, [4800])).pipe(asr({ engine: 'zipformer', model, device: 'cpu' }))),
      (e: unknown) => e instanceof CausewayError && e.code === 'invalid-frame',
    );
    const elsewhere = fileURLToPath(new URL('../../../models/tiny-cache-aware', import.meta.url));
    await assert.rejects(
      collect(from(framesOf(new Float32Array(1600), 16000, [1600])).pipe(asr({ engine: 'zipformer', model: elsewhere, device: 'cpu' }))),
      (e: unknown) => e instanceof CausewayError && e.code === 'model-not-found' && /no encoder\*\.onnx/.test(e.message),
    );
  });
});
