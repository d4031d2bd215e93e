import assert from 'node:assert/strict';
import { lastValueFrom, toArray } from 'rxjs';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { detectSpeech } from '../../src/pipelines/detect-speech.js';
import { resample } from '../../operators/resample.js';
import { vad } from '../../operators/vad.js';
import { encodeWav } from '../../media/wav.js';
import { speechFixture } from '../fixtures-speech.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { collect, framesOf, from } from '../operators/frames-helpers.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

describe('pipelines/detectSpeech (file -> ffmpeg -> resample -> VAD)', () => {
  let dir: string;
  before(() => (dir = makeTempDir('cw-pipe-')));
  after(() => removeDir(dir));

  it('equals the same operators run on the samples in memory, and drops nothing at file speed', async () => {
    const fx = speechFixture([0.5, 'One two three four five', 1.0, 'six seven eight', 0.7], 48000);
    const path = join(dir, 'speech48k.wav');
    writeFileSync(path, encodeWav({ sampleRate: 48000, channels: 1, samples: fx.samples }, 'float32'));
    // Every policy's counter: a 'pause' queue never counts drops (it holds ffmpeg back), so that
    // one alone could not change; a pipeline that fell back to dropping would count elsewhere.
    const vadDrops = async () => {
      const each = await Promise.all((['pause', 'drop-oldest', 'error'] as const).map((policy) => metricValue(sharedMetrics.drops, { operator: 'vad', policy })));
      return each.reduce((n, x) => n + x, 0);
    };
    const dropsBefore = await vadDrops();
    const fromFile = await lastValueFrom(detectSpeech(path, { device: 'cpu' }).pipe(toArray()));
    const inMemory = await collect(
      from(framesOf(fx.samples, 48000, Array(Math.ceil(fx.samples.length / 960)).fill(960).map((n, i) => Math.min(n, fx.samples.length - i * 960)))).pipe(
        resample({ toRate: 16000 }),
        vad({ device: 'cpu', queue: { capacity: 1_000_000 } }),
      ),
    );
    const strip = (es: typeof fromFile) => es.map((e) => [e.type, e.startUs, e.endUs]);
    assert.ok(fromFile.length >= 4, JSON.stringify(strip(fromFile)));
    assert.deepEqual(strip(fromFile), strip(inMemory));
    assert.equal(await vadDrops(), dropsBefore);
  });
});
