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
import { CausewayError } from '../../core/errors.js';
import { asr, type AsrEvent } from '../../operators/asr/index.js';
import { randomChunking, rng } from '../helpers-random.js';
import { assertEventSequence, burstSignal, stripAsrEvents } from './asr-helpers.js';
import { collect, framesOf, from } from './frames-helpers.js';

const model = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));

/** The tiny model's files with its `frontend` setting changed. */
function withFrontend(frontend: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cw-asr-'));
  const src = fileURLToPath(new URL('../../../models/tiny-cache-aware/', import.meta.url));
  for (const f of ['step.onnx', 'tokens.txt']) copyFileSync(join(src, f), join(dir, f));
  writeFileSync(join(dir, 'step.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(src, 'step.json'), 'utf8')), frontend }));
  return join(dir, 'step.onnx');
}

async function checkEvents(model: string, minFinals: number): Promise<AsrEvent[]> {
  const x = burstSignal(4, 1, 0.001);
  const run = (seed: number) =>
    collect(from(framesOf(x, 16000, randomChunking(x.length, rng(seed), 0, 3000))).pipe(asr({ engine: 'conformer', model, device: 'cpu', endpointMs: 200, queue: { capacity: 100_000 } })));
  const a = await run(2);
  const b = await run(3);
  assert.deepEqual(stripAsrEvents(b), stripAsrEvents(a));
  assert.ok(a.filter((e) => e.type === 'final').length >= minFinals, 'finals at endpoints during the stream, not only at its end');
  assertEventSequence(a);
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
    assert.notDeepEqual(stripAsrEvents(nemo), stripAsrEvents(causeway), 'the front end setting is used');
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
