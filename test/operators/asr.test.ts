/**
 * The asr operator's plumbing (mel front end -> cache-aware steps -> CTC -> events) on the tiny
 * random-weight model in the NeMo contract: texts are meaningless, but the properties are not:
 * any chunking gives the same events, partials only grow, finals close what the partials said.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CausewayError } from '../../src/core/errors.js';
import { asr, type AsrEvent } from '../../operators/asr.js';
import { randomChunking, rng } from '../helpers-random.js';
import { collect, framesOf, from } from './frames-helpers.js';

const model = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));

function signal(seconds: number, seed: number): Float32Array {
  const rand = rng(seed);
  const x = new Float32Array(16000 * seconds);
  // Bursts of noise and tones with quiet gaps, so the random model's argmax moves around.
  for (let i = 0; i < x.length; i++) {
    const burst = Math.floor(i / 8000) % 2 === 0;
    x[i] = burst ? 0.3 * Math.sin(i * 0.05 * (1 + Math.floor(i / 8000))) + 0.2 * (rand() - 0.5) : 0.001 * (rand() - 0.5);
  }
  return x;
}

const strip = (es: AsrEvent[]) => es.map((e) => [e.type, e.text, e.startUs, e.endUs]);

/** The tiny model's files with its `frontend` setting changed. */
function withFrontend(frontend: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cw-asr-'));
  const src = fileURLToPath(new URL('../../../models/tiny-cache-aware/', import.meta.url));
  for (const f of ['step.onnx', 'tokens.txt']) copyFileSync(join(src, f), join(dir, f));
  writeFileSync(join(dir, 'step.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(src, 'step.json'), 'utf8')), frontend }));
  return join(dir, 'step.onnx');
}

async function checkEvents(model: string, minFinals: number): Promise<AsrEvent[]> {
  const x = signal(4, 1);
  const run = (seed: number) =>
    collect(from(framesOf(x, 16000, randomChunking(x.length, rng(seed), 0, 3000))).pipe(asr({ engine: 'conformer', model, device: 'cpu', endpointMs: 200, queue: { capacity: 100_000 } })));
  const a = await run(2);
  const b = await run(3);
  assert.deepEqual(strip(b), strip(a));
  assert.ok(a.filter((e) => e.type === 'final').length >= minFinals, 'finals at endpoints during the stream, not only at its end');
  let open = '';
  for (const e of a) {
    assert.ok(e.startUs <= e.endUs && e.startUs >= 0, JSON.stringify(e));
    if (e.type === 'partial') {
      assert.ok(e.text.startsWith(open), `partial '${e.text}' does not extend '${open}'`);
      open = e.text;
    } else {
      assert.equal(e.text, open, 'a final says what the last partial said');
      open = '';
    }
  }
  assert.equal(a[a.length - 1].type, 'final', 'the stream ends with a final');
  return a;
}

describe('operators/asr (conformer engine, NeMo contract)', () => {
  let causeway: AsrEvent[];
  it('gives the same events for any chunking; partials only grow; finals close them', async () => {
    causeway = await checkEvents(model, 3);
  });

  it("with frontend 'nemo' (NeMo's featurizer, its trailing frames flushed) the same holds, on other features", async () => {
    // The random weights only endpoint on the features they happen to favour: here only at the end.
    const nemo = await checkEvents(withFrontend('nemo'), 1);
    assert.notDeepEqual(strip(nemo), strip(causeway), 'the front end setting is used');
    await assert.rejects(
      collect(from(framesOf(new Float32Array(1600), 16000, [1600])).pipe(asr({ engine: 'conformer', model: withFrontend('kaldi'), device: 'cpu' }))),
      /has frontend "kaldi"; expected 'causeway' or 'nemo'/,
    );
  });

  it('refuses non-16 kHz audio and a tokens file that does not fit the model', async () => {
    await assert.rejects(
      collect(from(framesOf(new Float32Array(4800), 48000, [4800])).pipe(asr({ engine: 'conformer', model, device: 'cpu' }))),
      (e: unknown) => e instanceof CausewayError && e.code === 'invalid-frame',
    );
    const dir = mkdtempSync(join(tmpdir(), 'cw-asr-'));
    for (const f of ['step.onnx', 'step.json']) copyFileSync(join(fileURLToPath(new URL('../../../models/tiny-cache-aware/', import.meta.url)), f), join(dir, f));
    writeFileSync(join(dir, 'tokens.txt'), '<blk> 0\n\u2581a 1\n');
    await assert.rejects(
      collect(from(framesOf(new Float32Array(1600), 16000, [1600])).pipe(asr({ engine: 'conformer', model: join(dir, 'step.onnx'), device: 'cpu' }))),
      /tokens\.txt has 2 pieces, the model 11 outputs/,
    );
  });
});
