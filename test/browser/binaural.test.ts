/**
 * The binaural return in a real browser: headless Debian chromium (playwright-core) plays white
 * noise as its microphone, the example page connects over WHIP to the real server running the
 * default pipeline (return: the microphone rendered by binaural({ engine }), 'hrtf' and 'neural'), and the
 * test drags the page's position dot with the mouse: to the left of the listener (azimuth 90),
 * then to the right (azimuth 270). In the page, the returned track goes through a WebAudio
 * ChannelSplitter into one AnalyserNode per channel; the left channel must be the louder one in
 * the first position and the right one in the second, by at least ILD_MIN_DB.
 *
 * Measured here (chromium 156, stereo Opus at libopus's default bitrate, white noise): about
 * hrtf 12.2-13.0 dB each way (the server test sees 12.5 dB through its own decoder), neural 14.0-14.3 dB,
 * 0 to 0.9 dB in front.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { startBrowserSession, type BrowserSession } from '../browser-session.js';
import { rng } from '../helpers-random.js';
import { sleep, until } from '../wait.js';

/** The least interaural level difference accepted at ±90° (measured: ~12.5 dB). */
const ILD_MIN_DB = 8;
/** How long a moved source may take to be heard there (measured: under 0.5 s; far more allowed, for a loaded machine: the wait ends as soon as it is heard). */
const SETTLE_MS = 20_000;


interface Sent {
  azimuth: number;
  elevation: number;
  distance: number;
  sentMs: number;
}

for (const engine of ['hrtf', 'neural'] as const) describe(`binaural return in chromium: fake microphone -> WHIP -> ${engine} binaural -> stereo Opus -> page`, function () {
  this.timeout(120_000);
  let session: BrowserSession;
  let server: CausewayServer;
  let page: Page;

  before(async () => {
    const rand = rng(9);
    const noise = new Float32Array(48000 * 2);
    for (let i = 0; i < noise.length; i++) noise[i] = 0.25 * (2 * rand() - 1);
    session = await startBrowserSession('cw-binaural-', noise, { pipeline: defaultPipeline({ device: 'cpu', binauralEngine: engine }) });
    ({ server, page } = session);
  });

  after(async () => {
    await session?.close();
  });

  /** Drags the dot from the listener's head to `dx`, `dy` (fractions of the pad's size from its centre) in small steps. */
  async function drag(dx: number, dy: number): Promise<void> {
    const box = (await page.locator('#pos-pad').boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const x0 = cx;
    const y0 = cy - 0.05 * box.height;
    const x1 = cx + dx * box.width;
    const y1 = cy + dy * box.height;
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    const steps = 12;
    for (let i = 1; i <= steps; i++) {
      await page.mouse.move(x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps);
      await sleep(15);
    }
    await page.mouse.up();
  }

  /** Mean energy of each returned channel over `ms` (the analysers' last 2048 samples, read every 50 ms): ILD in dB, left over right. */
  /** Measures the ILD over 1 s windows until `ok` holds or SETTLE_MS passes; returns the last measurement. */
  async function settled(ok: (db: number) => boolean): Promise<{ db: number; left: number; right: number }> {
    const end = Date.now() + SETTLE_MS;
    await sleep(400);
    for (;;) {
      const m = await ild(1000);
      if (ok(m.db) || Date.now() > end) return m;
    }
  }

  async function ild(ms: number): Promise<{ db: number; left: number; right: number }> {
    return page.evaluate(async (ms) => {
      const cw = (globalThis as any).causeway;
      let l = 0;
      let r = 0;
      const n = Math.round(ms / 50);
      for (let i = 0; i < n; i++) {
        const { left, right } = cw.channelLevels();
        l += left * left;
        r += right * right;
        await new Promise((res) => setTimeout(res, 50));
      }
      return { db: 10 * Math.log10((l + 1e-20) / (r + 1e-20)), left: Math.sqrt(l / n), right: Math.sqrt(r / n) };
    }, ms);
  }

  it('dragging the dot to the left makes the left ear louder, to the right the right ear, by at least ILD_MIN_DB', async () => {
    // Echo cancellation off: the measurement is of the return path, not of chromium's AEC.
    await page.evaluate(() => (globalThis as any).causeway.start({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } }));
    const answer: string = await page.evaluate(() => (globalThis as any).causeway.answer);
    const offer: string = await page.evaluate(() => (globalThis as any).causeway.offer);
    assert.match(offer, /a=fmtp:\d+ [^\r\n]*stereo=1/, 'the page asks for stereo back');
    assert.match(answer, /a=fmtp:\d+ [^\r\n]*sprop-stereo=1/, 'the server says it sends stereo');
    await until('returned audio in both channels', 20_000, async () => {
      const { left, right } = await page.evaluate(() => (globalThis as any).causeway.channelLevels());
      return left > 0.005 && right > 0.005 ? true : undefined;
    });
    const front = await ild(600);

    // To the left of the head at 1 m (the 1 m ring is 36/240 of the pad from the centre).
    await drag(-0.15, 0);
    const leftPos = await page.evaluate(() => (globalThis as any).causeway.position);
    assert.ok(Math.abs(leftPos.azimuth - 90) < 2 && Math.abs(leftPos.distance - 1) < 0.1, `dragged to the left at 1 m: ${JSON.stringify(leftPos)}`);
    assert.match((await page.textContent('#pos-azimuth'))!, /^(8[89]|9[012])°$/);
    // The message's trip, the renderer's glide, chromium's jitter buffer and, on a loaded machine,
    // the renderer's queue (the neural engine's up to 1 s): the side must change within SETTLE_MS.
    const left = await settled((db) => db >= ILD_MIN_DB);

    await drag(0.15, 0);
    const rightPos = await page.evaluate(() => (globalThis as any).causeway.position);
    assert.ok(Math.abs(rightPos.azimuth - 270) < 2, `dragged to the right: ${JSON.stringify(rightPos)}`);
    const right = await settled((db) => db <= -ILD_MIN_DB);

    console.log(
      `      ILD in the page (left/right RMS of the returned track): front ${front.db.toFixed(1)} dB, ` +
        `az ${leftPos.azimuth} ${left.db.toFixed(1)} dB (L ${left.left.toFixed(4)} R ${left.right.toFixed(4)}), ` +
        `az ${rightPos.azimuth} ${right.db.toFixed(1)} dB (L ${right.left.toFixed(4)} R ${right.right.toFixed(4)})`,
    );
    assert.ok(left.db >= ILD_MIN_DB, `source left: left ear louder by ${left.db.toFixed(1)} dB (>= ${ILD_MIN_DB})`);
    assert.ok(right.db <= -ILD_MIN_DB, `source right: right ear louder by ${(-right.db).toFixed(1)} dB (>= ${ILD_MIN_DB})`);

    // While dragging, position messages went out at most every 50 ms (setTimeout may fire a little early).
    const sent = (await page.evaluate(() => (globalThis as any).causeway.positionsSent)) as Sent[];
    assert.ok(sent.length >= 3, `position messages sent: ${sent.length}`);
    const gaps = sent.slice(1).map((s, i) => s.sentMs - sent[i].sentMs);
    assert.ok(Math.min(...gaps) >= 45, `gaps between position messages: min ${Math.min(...gaps).toFixed(1)} ms`);
    assert.deepEqual(
      { azimuth: sent.at(-1)!.azimuth, distance: sent.at(-1)!.distance },
      { azimuth: rightPos.azimuth, distance: rightPos.distance },
      'the last position shown is the last one sent',
    );
    const events = (await page.evaluate(() => (globalThis as any).causeway.events)) as { type: string }[];
    assert.ok(!events.some((e) => e.type === 'error'), JSON.stringify(events.filter((e) => e.type === 'error')));

    await page.evaluate(() => (globalThis as any).causeway.stop());
    await until('session closed', 5000, () => server.sessions.size === 0 || undefined);
    assert.deepEqual(session.browser.errors(page), []);
  });
});
