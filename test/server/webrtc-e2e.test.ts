/**
 * The whole WebRTC path with a real browser: headless Debian chromium (playwright-core) plays a
 * generated speech WAV as its microphone, the example page connects over WHIP to the real server,
 * the default pipeline runs Silero VAD on the decoded Opus audio and returns the microphone
 * rendered binaurally (stereo Opus: the page asks for it); events come back on the data channel
 * and /events.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import type { CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { launchBrowser, type BrowserHarness } from '../browser-harness.js';
import { startBrowserSession, type BrowserSession } from '../browser-session.js';
import { speechFixture, type SpeechFixture } from '../fixtures-speech.js';
import { childProcesses } from '../processes.js';
import { collectGarbage } from '../gc.js';
import { sleep, until } from '../wait.js';

interface Ev {
  type: string;
  startUs?: number;
  endUs?: number;
}


/** Sessions ended for `reasons` so far (the counter is process-wide: tests compare before/after). */
async function ended(server: CausewayServer, reasons: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^causeway_sessions_ended_total\{reason="([^"]+)"\} (\d+)$/gm)) if (reasons.test(m[1])) n += Number(m[2]);
  return n;
}
const peerEnded = (server: CausewayServer) => ended(server, /^peer-(closed|failed)$/);

/** Read from /proc: a missing `pgrep` must not read as "no child processes". */
function childPids(): number[] {
  return childProcesses().map((c) => c.pid);
}

describe('WebRTC end to end: chromium <-> WHIP server <-> VAD pipeline', function () {
  this.timeout(120_000);
  let harness: BrowserSession;
  let dir: string;
  let fx: SpeechFixture;
  let server: CausewayServer;
  let browser: BrowserHarness;
  let page: Page;
  // One loop of the fake microphone: silence, one sentence, silence. Chromium loops the file, so
  // the speech repeats with a known period.
  const lead = 1.5;
  const tail = 2.0;

  before(async () => {
    fx = speechFixture([lead, 'Causeway hears this sentence clearly', tail], 48000);
    harness = await startBrowserSession('cw-e2e-', fx.samples, { pipeline: defaultPipeline({ device: 'cpu' }), maxSessions: 4 });
    ({ dir, server, browser, page } = harness);
  });

  after(async () => {
    await harness?.close();
  });

  it('VAD events arrive over the data channel and /events with the speech timing of the file; returned audio plays', async () => {
    const deletedBefore = await ended(server, /^deleted$/);
    await page.evaluate(() => (globalThis as any).causeway.start());
    const sessionUrl: string = await page.evaluate(() => (globalThis as any).causeway.sessionUrl);
    const id = sessionUrl.split('/').pop()!;
    assert.equal(server.sessions.size, 1);
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/events/${id}`);
    const wsEvents: Ev[] = [];
    ws.on('message', (d) => wsEvents.push(JSON.parse(String(d))));

    const period = fx.samples.length / 48000;
    const speech = fx.spans[0].end - fx.spans[0].start;
    // Three loops of the file give at least two whole segments.
    const segs = await until('two whole speech segments', 3 * period * 1000 + 10_000, async () => {
      const evs: Ev[] = await page.evaluate(() => (globalThis as any).causeway.events);
      const ends = evs.filter((e) => e.type === 'speech-end');
      return ends.length >= 3 ? ends : undefined;
    });
    // The first segment may start mid-sentence (capture starts anywhere in the loop): judge the others.
    const whole = segs.slice(1);
    for (const s of whole) {
      const dur = (s.endUs! - s.startUs!) / 1e6;
      assert.ok(Math.abs(dur - speech) < 0.45, `segment lasts ${dur.toFixed(2)} s, the sentence ${speech.toFixed(2)} s`);
    }
    for (let i = 1; i < whole.length; i++) {
      const gap = (whole[i].startUs! - whole[i - 1].startUs!) / 1e6;
      assert.ok(Math.abs(gap - period) < 0.15, `segments ${gap.toFixed(3)} s apart, the file loops every ${period.toFixed(3)} s`);
    }
    // /events carried the same VAD events (it joined a little later, so compare what it saw).
    await until('events on /events', 5000, () => wsEvents.some((e) => e.type === 'speech-end') || undefined);
    const dcEnds = new Set(segs.map((e) => `${e.startUs}-${e.endUs}`));
    for (const e of wsEvents.filter((x) => x.type === 'speech-end')) {
      if (!dcEnds.has(`${e.startUs}-${e.endUs}`)) {
        const later: Ev[] = await page.evaluate(() => (globalThis as any).causeway.events);
        assert.ok(later.some((x) => x.type === 'speech-end' && x.startUs === e.startUs && x.endUs === e.endUs), 'same event on both channels');
      }
    }
    ws.close();
    const stats = await page.evaluate(() => (globalThis as any).causeway.stats());
    assert.ok(stats.inboundAudioBytes > 10_000, `returned audio bytes ${stats.inboundAudioBytes}`);
    assert.ok(stats.remoteAnalyserLevel > 0.001 || stats.inboundAudioLevel > 0.001, `returned audio level ${JSON.stringify(stats)}`);
    const rtt = await page.evaluate(() => (globalThis as any).causeway.rttMs);
    // One round trip through two busy event loops: a bound for a loaded machine (quiet: a few ms).
    assert.ok(typeof rtt === 'number' && rtt >= 0 && rtt < 10_000, `data channel RTT ${rtt}`);

    await page.evaluate(() => (globalThis as any).causeway.stop());
    await until('session gone after DELETE', 5000, () => server.sessions.size === 0 || undefined);
    const metricsText = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metricsText, /causeway_sessions 0/);
    assert.equal(await ended(server, /^deleted$/), deletedBefore + 1);
    assert.match(metricsText, /causeway_model_provider\{[^}]*provider="cpu"\} 1/);
  });

  it('camera: the server decodes the fake camera (VP8) and the page decodes the mirrored video it sends back', async () => {
    const cam = await launchBrowser({ fakeAudioWav: join(dir, 'mic.wav'), fakeVideo: true });
    try {
      const camPage = await cam.page(`${server.url}/`);
      await camPage.evaluate(() => (globalThis as any).causeway.start({ camera: true }));
      const sessionUrl: string = await camPage.evaluate(() => (globalThis as any).causeway.sessionUrl);
      const session = server.sessions.get(sessionUrl.split('/').pop()!)!;
      assert.ok(session.peer.hasVideo, 'the offer had VP8 video');
      const sizes = new Set<string>();
      const sub = session.peer.video$.subscribe((f) => sizes.add(`${f.width}x${f.height}:${f.format}`));
      await until('camera frames decoded at the server', 20_000, () => session.peer.stats().videoFramesDecoded >= 10 || undefined);
      const stats = await until('returned video decoded by the page', 20_000, async () => {
        const st = await camPage.evaluate(() => (globalThis as any).causeway.stats());
        return st.inboundVideoFramesDecoded >= 10 ? st : undefined;
      });
      sub.unsubscribe();
      assert.deepEqual([...sizes], ['320x240:rgb24']);
      assert.equal(stats.inboundVideoWidth, 320);
      assert.equal(stats.inboundVideoHeight, 240);
      const peerStats = session.peer.stats();
      assert.ok(peerStats.videoFramesSent >= 10, `video frames sent ${peerStats.videoFramesSent}`);
      await camPage.evaluate(() => (globalThis as any).causeway.stop());
      await until('camera session closed', 5000, () => server.sessions.size === 0 || undefined);
      assert.deepEqual(cam.errors(camPage), []);
    } finally {
      await cam.close();
    }
  });

  it('20 sessions opened and closed in a row leave no growth in handles, child processes or memory', async () => {
    const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    // One session first so lazily created things (model session cache, sockets) exist in the baseline.
    await page.evaluate(() => (globalThis as any).causeway.start());
    await page.evaluate(() => (globalThis as any).causeway.stop());
    await until('first session closed', 5000, () => server.sessions.size === 0 || undefined);
    await sleep(500);
    collectGarbage(); // both heap figures after a full collection, so the difference is what survives
    const before = { handles: handles(), children: childPids().length, heap: process.memoryUsage().heapUsed };
    for (let i = 0; i < 20; i++) {
      await page.evaluate(() => (globalThis as any).causeway.start());
      await sleep(150);
      await page.evaluate(() => (globalThis as any).causeway.stop());
    }
    await until('all sessions closed', 10_000, () => server.sessions.size === 0 || undefined);
    // Teardown finishes asynchronously (sockets, timers, ffmpeg exits): wait for it rather than a fixed second; the asserts below say what was left.
    await until('handles and child processes back to the baseline', 15_000, () => handles() <= before.handles + 2 && childPids().length <= before.children).catch(() => undefined);
    collectGarbage();
    const after = { handles: handles(), children: childPids().length, heap: process.memoryUsage().heapUsed };
    assert.ok(after.handles <= before.handles + 2, `handles ${before.handles} -> ${after.handles}: ${process.getActiveResourcesInfo().join(',')}`);
    assert.ok(after.children <= before.children, `child processes ${before.children} -> ${after.children}`);
    // 20 sessions of werift peers, Opus codecs and VAD state; 40 MB is far above what survives a GC when nothing leaks.
    assert.ok(after.heap - before.heap < 40e6, `heap grew by ${((after.heap - before.heap) / 1e6).toFixed(1)} MB`);
    const m = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(m, /causeway_sessions 0/);
  });

  it('a client that vanishes (browser killed mid-stream) is torn down within a few seconds', async () => {
    const endedBefore = await peerEnded(server);
    await page.evaluate(() => (globalThis as any).causeway.start());
    assert.equal(server.sessions.size, 1);
    for (const pid of browser.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const t0 = Date.now();
    await until('session of the vanished client closed', 20_000, () => server.sessions.size === 0 || undefined);
    const took = (Date.now() - t0) / 1000;
    // The server gives peers 4 s without RTP (a killed browser sends no DTLS close); werift's own ICE consent check takes 30 s.
    // 4 s + up to 1 s to the next check + up to 2 s of close, with room for a loaded machine: still half werift's 30 s.
    assert.ok(took < 15, `teardown took ${took.toFixed(1)} s`);
    assert.equal(await peerEnded(server), endedBefore + 1, 'ended because the peer went away, not by DELETE');
  });
});
