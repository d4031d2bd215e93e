/**
 * The shipped command recogniser on voices it never heard: whole voices held out of training by
 * models/command-asr/voices.mjs (espeak-ng variants with any accent, the West Midlands accent with
 * any variant, flite's awb; the test checks each voice it uses against that list), speaking digit
 * strings and commands with short pauses between phrases, through the real streaming path (our
 * resampler, log-mel, cache-aware steps, CTC, endpointing). Measured figures: see the bounds below.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { StreamingLogMel } from '../../kernels/mel.js';
import { asr } from '../../operators/asr/index.js';
import { CacheAwareStream } from '../../core/models/nemo-cache-aware.js';
import { speechFixture } from '../fixtures-speech.js';
import { wordErrors } from '../wer.js';
import { collect, framesOf, from } from './frames-helpers.js';
import { HELD_OUT_VOICES, assertHeldOut } from './held-out-voices.js';

const model = fileURLToPath(new URL('../../../models/command-asr/model/step.onnx', import.meta.url));

const phrases = ['seven three nine one', 'one two three four five six', 'four zero eight', 'two five', 'volume up', 'lights off', 'play music', 'call home', 'stop', 'next', 'cancel', 'go back'];
const voices = HELD_OUT_VOICES;
/**
 * Word error rate bound over all held-out voices: the issue's goal, 10%. Measured with the shipped
 * model (the three-stage recipe of models/command-asr/make.sh): 6.8% (19 of 280 words; the West
 * Midlands accent with belinda and the espeak-ng variant Andy are the hardest, 6 and 4 errors);
 * the model before that recipe: 16.8%.
 */
const WER_BOUND = 0.1;

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

  it('recognises digit strings and commands from held-out voices, phrases apart by short pauses', async () => {
    await assertHeldOut(voices);
    let errors = 0;
    let words = 0;
    const report: string[] = [];
    for (const voice of voices) {
      // 0.7 s between phrases: the pauses a person leaves between commands.
      const fx = speechFixture([0.4, ...phrases.flatMap((p) => [p, 0.7]), 0.5], 16000, voice);
      const sizes = Array.from({ length: Math.ceil(fx.samples.length / 320) }, (_, i) => Math.min(320, fx.samples.length - i * 320));
      const events = await collect(from(framesOf(fx.samples, 16000, sizes)).pipe(asr({ engine: 'conformer', model, device: 'cpu', queue: { capacity: 100_000 } })));
      const said = events.filter((e) => e.type === 'final').map((e) => e.text).join(' ').split(' ').filter(Boolean);
      const ref = phrases.join(' ').split(' ');
      const e = wordErrors(ref, said);
      errors += e;
      words += ref.length;
      report.push(`${voice}: ${e}/${ref.length}${e ? ` "${said.join(' ')}"` : ''}`);
    }
    const wer = errors / words;
    console.log(`      held-out WER ${(100 * wer).toFixed(1)}% (${errors}/${words}); ${report.join('; ')}`);
    assert.ok(wer <= WER_BOUND, `WER ${wer.toFixed(3)}: ${report.join('; ')}`);
  });
});
