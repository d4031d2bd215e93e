/**
 * The shipped command recogniser on speech it never heard: espeak-ng voice variants held out
 * of training (models/command-asr/gen-features.mjs keeps m7, f4, Andy and Storm for evaluation),
 * through the real streaming path (our resampler, log-mel, cache-aware steps, CTC).
 * Measured with the shipped model: 38 of 40 phrases exact, 2 word errors in 68 words (2.9%):
 * "lights off" -> "lights stop off" (m7) and "cancel" -> "" (Andy). Bounds with margin: at least
 * 85% exact and a WER of at most 10%.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { StreamingLogMel } from '../../kernels/mel.js';
import { asr } from '../../operators/asr.js';
import { CacheAwareStream } from '../../src/core/models/nemo-cache-aware.js';
import { speechFixture } from '../fixtures-speech.js';
import { wordErrors } from '../wer.js';
import { collect, framesOf, from } from './frames-helpers.js';

const model = fileURLToPath(new URL('../../../models/command-asr/model/step.onnx', import.meta.url));

const phrases = ['play music', 'volume up', 'lights off', 'seven three nine', 'stop', 'open', 'next', 'call home', 'two five', 'cancel'];
const voices = ['en-us+m7', 'en-gb+f4', 'en-us+Andy', 'en-us+Storm'];

describe('command recogniser (models/command-asr) on held-out voices', function () {
  this.timeout(120_000);
  it('streams chunk by chunk with its caches exactly as its offline graph runs the whole utterance (<= 1e-4)', async () => {
    const fx = speechFixture([0.3, 'volume up seven', 0.5], 16000, 'en-us+m7');
    const frames: Float32Array[] = [];
    new StreamingLogMel({ sampleRate: 16000, nFft: 512, hop: 160, nMels: 80 }).push(fx.samples, (m) => frames.push(m.slice()));
    const T = frames.length;
    const melMajor = new Float32Array(80 * T);
    frames.forEach((f, t) => f.forEach((v, m) => (melMajor[m * T + t] = v)));
    const session = await ort.InferenceSession.create(model.replace('step.onnx', 'offline.onnx'));
    const ref = (await session.run({ audio_signal: new ort.Tensor('float32', melMajor, [1, 80, T]) })).logprobs.data as Float32Array;
    await session.release();
    const stream = await CacheAwareStream.open(model, { device: 'cpu' });
    const got: number[] = [];
    for (const f of frames) got.push(...((await stream.push(f)) ?? []));
    got.push(...((await stream.flush()) ?? []));
    stream.dispose();
    assert.equal(got.length, ref.length, 'one log-prob frame per 4 mel frames, the last partial chunk included');
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
    assert.ok(worst <= 1e-4, `max abs difference ${worst}`);
  });

  it('recognises the phrases with the stated accuracy', async () => {
    let errors = 0;
    let words = 0;
    let exact = 0;
    const misses: string[] = [];
    for (const voice of voices) {
      for (const phrase of phrases) {
        const fx = speechFixture([0.4, phrase, 0.8], 16000, voice);
        const events = await collect(from(framesOf(fx.samples, 16000, Array(Math.ceil(fx.samples.length / 320)).fill(320).map((n, i) => Math.min(n, fx.samples.length - i * 320)))).pipe(asr({ engine: 'conformer', model, device: 'cpu', queue: { capacity: 100_000 } })));
        const text = events.filter((e) => e.type === 'final').map((e) => e.text).join(' ');
        errors += wordErrors(phrase.split(' '), text.split(' ').filter(Boolean));
        words += phrase.split(' ').length;
        if (text === phrase) exact++;
        else misses.push(`${voice} "${phrase}" -> "${text}"`);
      }
    }
    const n = voices.length * phrases.length;
    const wer = errors / words;
    assert.ok(exact >= 0.85 * n, `exact ${exact}/${n}; WER ${wer.toFixed(3)}; misses: ${misses.join('; ')}`);
    assert.ok(wer <= 0.1, `WER ${wer.toFixed(3)}: ${misses.join('; ')}`);
  });
});
