/**
 * The same browser experience through a front as with `causeway serve` alone: two real chromium
 * pages (Debian's chromium, fake microphone speaking command words) open the example page on a
 * front, each session lands on its own worker, and each page gets its captions (the spoken words,
 * exactly), VAD events and its voice back binaurally, straight from its worker.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, writeWav, type BrowserHarness } from '../browser-harness.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { speechFixture } from '../fixtures-speech.js';
import { until } from '../wait.js';
import { Cluster, health } from './harness.js';

describe('cluster: real chromium sessions through a front, on two workers', function () {
  this.timeout(240_000);
  let cluster: Cluster;
  let browser: BrowserHarness | undefined;
  let dir: string;

  beforeEach(() => {
    cluster = new Cluster();
    dir = makeTempDir('cw-cluster-browser-');
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') for (const p of cluster.procs) console.log(`---- ${p.child.spawnargs.slice(1).join(' ')}\n${p.out().split('\n').slice(-20).join('\n')}`);
    await browser?.close();
    await cluster.stop();
    removeDir(dir);
  });

  it('each page is placed on a worker of its own and gets the spoken words as captions, VAD events and its voice back', async () => {
    const words = ['lights on', 'volume up', 'stop'];
    const fx = speechFixture(words.flatMap((w) => [0.5, w]).concat([0.5]), 48000, 'en-us');
    const wav = join(dir, 'mic.wav');
    writeWav(wav, [fx.samples], 48000);
    await cluster.startNats();
    cluster.worker('w1', 2);
    cluster.worker('w2', 2);
    const { url } = await cluster.front();
    await until('both workers live', 90_000, async () => (await health(url)).workers === 2);
    browser = await launchBrowser({ fakeAudioWav: wav, fakeVideo: false });
    const pages: Page[] = [];
    for (let i = 0; i < 2; i++) {
      const page = await browser.page(`${url}/`);
      pages.push(page);
      await page.evaluate(() => (globalThis as any).causeway.start());
      await until(`page ${i} connected`, 30_000, async () => (await page.evaluate(() => (globalThis as any).causeway.connectionState)) === 'connected');
    }
    const h = (await health(url)) as unknown as { list: { name: string; sessions: number }[] };
    assert.deepEqual(h.list.map((w) => [w.name, w.sessions]).sort(), [['w1', 1], ['w2', 1]], 'one session on each worker');

    const loopWords = words.join(' ').split(' ');
    for (const [i, page] of pages.entries()) {
      // Two finals after the first (which may hold a word cut where the capture began): the file's words, in order.
      const said = await until(`page ${i}: captions`, 90_000, async () => {
        const captions = (await page.evaluate(() => (globalThis as any).causeway.captions)) as { text: string }[];
        const w = captions.slice(1).flatMap((c) => c.text.split(' '));
        return w.length >= loopWords.length ? w : undefined;
      });
      const at = loopWords.findIndex((_, k) => said.every((w, j) => w === loopWords[(k + j) % loopWords.length]));
      assert.ok(at >= 0, `page ${i}: the finals are the spoken words: ${said.join(' ')}`);
      const events = (await page.evaluate(() => (globalThis as any).causeway.events)) as { type: string }[];
      assert.ok(events.some((e) => e.type === 'speech-end'), `page ${i}: VAD events`);
      assert.ok(!events.some((e) => e.type === 'error'), JSON.stringify(events.filter((e) => e.type === 'error')));
      await until(`page ${i}: its voice back in both ears`, 20_000, async () => {
        const { left, right } = (await page.evaluate(() => (globalThis as any).causeway.channelLevels())) as { left: number; right: number };
        return left > 0.005 && right > 0.005 ? true : undefined;
      });
    }
    for (const page of pages) await page.evaluate(() => (globalThis as any).causeway.stop());
    await until('both sessions ended at the workers', 15_000, async () => (await health(url)).sessions === 0);
    for (const page of pages) assert.deepEqual(browser.errors(page), []);
  });
});
