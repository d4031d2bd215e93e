/**
 * The example web page (examples/web) in a real headless chromium, without the Causeway server:
 * a node:http server in this test serves the page and plays the WHIP endpoint. It either refuses
 * with 503 (to check the offer the page sends and how it reports the refusal), or hands the offer
 * to an echo peer, a plain RTCPeerConnection in a second tab of the same chromium that sends the
 * received audio (through Web Audio, halved) and video back, answers pings and sends a few events, so the page's whole session path runs for real.
 *
 * CAUSEWAY_SCREENSHOT=<file.png> saves a screenshot of the page during the live session.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchBrowser, writeToneWav, type BrowserHarness } from '../browser-harness.js';
import { processesMatching } from '../processes.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'causeway') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json of causeway not found above the test');
    dir = up;
  }
}

const WEB_ROOT = join(repoRoot(), 'examples', 'web');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
};

/** The echo peer: answers an offer, sends every received track back, pongs pings, sends events. */
const ECHO_PAGE = `<!doctype html><meta charset="utf-8"><title>echo peer</title><link rel="icon" href="data:,">
<script>
window.received = [];
window.answerOffer = async (offer) => {
  // Media permission makes chromium put real host addresses (127.0.0.1), not mDNS names, in the answer.
  const s = await navigator.mediaDevices.getUserMedia({ audio: true });
  s.getTracks().forEach((t) => t.stop());
  const pc = (window.pc = new RTCPeerConnection());
  pc.ondatachannel = (e) => {
    const dc = e.channel;
    window.dcLabel = dc.label;
    dc.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      window.received.push(msg);
      if (msg.type === 'ping') dc.send(JSON.stringify({ type: 'pong', t: msg.t }));
      // The caption's final comes when the page sends a control message, so the partial is on show until then.
      if (msg.type === 'control-test') dc.send(JSON.stringify({ type: 'final', text: 'hello from the echo peer', startUs: 0, endUs: 480000 }));
    };
    dc.onopen = () => {
      const now = Date.now();
      dc.send(JSON.stringify({ type: 'speech-start', startUs: 0, endUs: 0, wallMs: now }));
      dc.send(JSON.stringify({ type: 'partial', text: 'hello from', startUs: 0, endUs: 320000 }));
      dc.send(JSON.stringify({ type: 'speech-end', startUs: 0, endUs: 480000, wallMs: now }));
    };
  };
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  for (const t of pc.getTransceivers()) {
    let back = t.receiver.track;
    if (back.kind === 'audio') {
      // Chromium sends nothing for a remote audio track handed straight to a sender; route it
      // through Web Audio (halved: the "processing") and send that.
      const ctx = (window.audioCtx ??= new AudioContext());
      const stream = new MediaStream([back]);
      const sink = new Audio();
      sink.muted = true;
      sink.srcObject = stream; // a remote stream feeds Web Audio only while a media element plays it
      const gain = ctx.createGain();
      gain.gain.value = 0.5;
      const dst = ctx.createMediaStreamDestination();
      ctx.createMediaStreamSource(stream).connect(gain).connect(dst);
      back = dst.stream.getAudioTracks()[0];
    }
    await t.sender.replaceTrack(back);
    t.direction = 'sendrecv';
  }
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((r) => {
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
      setTimeout(r, 3000);
    });
  }
  return pc.localDescription.sdp;
};
window.hangUp = () => {
  if (window.pc) window.pc.close();
  window.pc = null;
  if (window.audioCtx) window.audioCtx.close();
  window.audioCtx = null;
};
</script>`;

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Section {
  media: string;
  lines: string[];
}

/** SDP sections: the session part (media '') then one per m= line. */
function sdpSections(sdp: string): Section[] {
  const out: Section[] = [{ media: '', lines: [] }];
  for (const line of sdp.split('\r\n')) {
    if (line === '') continue;
    if (line.startsWith('m=')) out.push({ media: line, lines: [] });
    else out[out.length - 1]!.lines.push(line);
  }
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Hook {
  state: string;
  captions: { text: string; startUs: number; endUs: number; receivedWallMs: number; latencyMs: number | null }[];
  partial: string;
  error: string | null;
  sessionUrl: string | null;
  rttMs: number | null;
  deleteStatus: number | null;
  offer: string | null;
  events: Record<string, unknown>[];
  log: { message: Record<string, unknown>; receivedWallMs: number; latencyMs: number | null }[];
}

interface Stats {
  state: string;
  connectionState: string;
  inboundAudioBytes: number;
  inboundAudioLevel: number | null;
  inboundAudioCodec: string | null;
  outboundAudioBytes: number;
  outboundAudioCodec: string | null;
  micAudioLevel: number | null;
  micAnalyserLevel: number | null;
  remoteAnalyserLevel: number | null;
  inboundVideoFramesDecoded: number;
  outboundVideoFramesEncoded: number;
  iceRttMs: number | null;
}

const hookOf = async (page: Page) => (await page.evaluate('JSON.parse(JSON.stringify(window.causeway))')) as Hook;
const statsOf = async (page: Page) => (await page.evaluate('window.causeway.stats()')) as Stats;
const isFailedResourceLoad = (e: string) => e.includes('Failed to load resource');

describe('examples/web page in real chromium (stub WHIP endpoint, no Causeway server)', function () {
  this.timeout(60_000);

  let dir: string;
  let harness: BrowserHarness | undefined;
  let server: Server;
  let base: string;
  let whipMode: 'refuse' | 'echo' = 'refuse';
  let echoPage: Page | undefined;
  const requests: Recorded[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'causeway-page-test-'));
    const wav = join(dir, 'tone-440.wav');
    writeToneWav(wav, { hz: 440, amplitude: 0.5, seconds: 1, sampleRate: 48000 });

    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const url = new URL(req.url ?? '/', 'http://x');
          const method = req.method ?? 'GET';
          const body = Buffer.concat(chunks).toString('utf8');
          if (url.pathname === '/whip' || url.pathname.startsWith('/whip/')) {
            requests.push({ method, url: url.pathname, headers: req.headers, body });
          }
          if (method === 'POST' && url.pathname === '/whip') {
            if (whipMode === 'refuse' || echoPage === undefined) {
              res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('server full\n');
              return;
            }
            const answer = (await echoPage.evaluate(`window.answerOffer(${JSON.stringify(body)})`)) as string;
            res.writeHead(201, { 'Content-Type': 'application/sdp', Location: '/whip/stub-1' }).end(answer);
            return;
          }
          if (method === 'DELETE' && url.pathname === '/whip/stub-1') {
            await echoPage?.evaluate('window.hangUp()');
            res.writeHead(200).end();
            return;
          }
          if (method === 'GET' && url.pathname === '/__stub/echo.html') {
            res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(ECHO_PAGE);
            return;
          }
          if (method === 'GET') {
            const file = resolve(WEB_ROOT, '.' + (url.pathname === '/' ? '/index.html' : decodeURIComponent(url.pathname)));
            if (file.startsWith(WEB_ROOT + sep) && existsSync(file) && statSync(file).isFile()) {
              res.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
              return;
            }
          }
          res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        })().catch((e: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`stub failed: ${String(e)}\n`);
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    harness = await launchBrowser({ fakeAudioWav: wav, closeTimeoutMs: 2000 });
  });

  after(async () => {
    await harness?.close();
    await new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  it('chromium plays the fake WAV as the microphone (a 440 Hz tone at amplitude 0.5)', async () => {
    const page = await harness!.page(`${base}/__stub/echo.html`);
    const m = (await page.evaluate(`(async () => {
      const s = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      const ctx = new AudioContext();
      const an = ctx.createAnalyser();
      an.fftSize = 8192;
      ctx.createMediaStreamSource(s).connect(an);
      // Wait (10 s at most) until the tone fills the analyser's whole window: on a busy machine the
      // fake capture starts late. Its first quarter carrying signal means all of it does.
      const td = new Float32Array(an.fftSize);
      const quarterRms = () => {
        an.getFloatTimeDomainData(td);
        let q = 0;
        for (let i = 0; i < td.length / 4; i++) q += td[i] * td[i];
        return Math.sqrt(q / (td.length / 4));
      };
      for (let i = 0; i < 100 && quarterRms() < 0.1; i++) await new Promise((r) => setTimeout(r, 100));
      let e = 0;
      for (const v of td) e += v * v;
      const fd = new Float32Array(an.frequencyBinCount);
      an.getFloatFrequencyData(fd);
      let peak = 1;
      for (let i = 1; i < fd.length; i++) if (fd[i] > fd[peak]) peak = i;
      const settings = s.getAudioTracks()[0].getSettings();
      s.getTracks().forEach((t) => t.stop());
      await ctx.close();
      return { rms: Math.sqrt(e / td.length), peakHz: (peak * ctx.sampleRate) / an.fftSize, binHz: ctx.sampleRate / an.fftSize, settings };
    })()`)) as { rms: number; peakHz: number; binHz: number; settings: { sampleRate?: number; channelCount?: number } };
    assert.ok(Math.abs(m.peakHz - 440) <= 2 * m.binHz, `peak at ${m.peakHz} Hz`);
    assert.ok(Math.abs(m.rms - 0.5 / Math.SQRT2) < 0.05, `rms ${m.rms}`);
    await page.close();
  });

  it('loads without console errors, idle, with the window.causeway hook', async () => {
    const page = await harness!.page(`${base}/`);
    const hook = await hookOf(page);
    assert.equal(hook.state, 'idle');
    assert.equal(hook.error, null);
    assert.deepEqual(hook.events, []);
    assert.equal(await page.evaluate('typeof window.causeway.start + typeof window.causeway.stop + typeof window.causeway.stats'), 'functionfunctionfunction');
    assert.equal(await page.isEnabled('#start'), true);
    assert.equal(await page.isEnabled('#stop'), false);
    assert.equal(await page.textContent('#state'), 'idle');
    await page.waitForTimeout(200); // late module errors
    assert.deepEqual(harness!.errors(page), []);
    await page.close();
  });

  it('Start sends a well-formed WHIP offer; the 503 reason is shown and the page is idle again', async () => {
    whipMode = 'refuse';
    requests.length = 0;
    const page = await harness!.page(`${base}/`);
    await page.fill('#token', 'tok-123');
    await page.click('#start');
    await page.waitForFunction('window.causeway.state === "idle" && window.causeway.error !== null');

    assert.equal(requests.length, 1, 'one request: the POST');
    const post = requests[0]!;
    assert.equal(post.method, 'POST');
    assert.equal(post.url, '/whip');
    assert.equal(post.headers['content-type'], 'application/sdp');
    assert.equal(post.headers.authorization, 'Bearer tok-123');

    const sections = sdpSections(post.body);
    assert.ok(post.body.startsWith('v=0\r\n'), 'an SDP offer');
    const audio = sections.filter((s) => s.media.startsWith('m=audio '));
    const data = sections.filter((s) => s.media.startsWith('m=application '));
    assert.equal(audio.length, 1, 'one audio m-line');
    assert.equal(data.length, 1, 'one m=application (the data channel)');
    assert.equal(sections.filter((s) => s.media.startsWith('m=video ')).length, 0, 'no video without the camera');
    const a = audio[0]!;
    assert.match(a.media, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF( \d+)+$/);
    const opus = a.lines.map((l) => /^a=rtpmap:(\d+) opus\/48000\/2$/i.exec(l)).find((x) => x !== null);
    assert.ok(opus, 'opus in the audio section');
    assert.ok(a.media.split(' ').slice(3).includes(opus[1]!), 'opus payload type listed in the m-line');
    assert.ok(a.lines.includes('a=sendrecv'), 'audio is sendrecv');
    assert.match(data[0]!.media, /^m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel$/);
    assert.ok(data[0]!.lines.some((l) => l.startsWith('a=sctp-port:')));
    for (const s of [a, data[0]!]) {
      const all = [...sections[0]!.lines, ...s.lines];
      assert.ok(all.some((l) => l.startsWith('a=ice-ufrag:')), `ice-ufrag for ${s.media}`);
      assert.ok(all.some((l) => l.startsWith('a=fingerprint:sha-256 ')), `fingerprint for ${s.media}`);
      assert.ok(all.includes('a=setup:actpass'), `setup:actpass for ${s.media}`);
    }
    const candidates = post.body.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
    assert.ok(
      candidates.some((l) => / udp \d+ 127\.0\.0\.1 \d+ typ host/i.test(l)),
      `a host candidate on 127.0.0.1 (non-trickle: gathered before the POST):\n${candidates.join('\n')}`,
    );

    assert.equal((await page.textContent('#error'))?.trim(), 'server full (HTTP 503)');
    const hook = await hookOf(page);
    assert.equal(hook.state, 'idle');
    assert.equal(hook.error, 'server full (HTTP 503)');
    assert.equal(hook.sessionUrl, null);
    assert.equal(await page.textContent('#state'), 'idle');
    assert.equal(await page.isEnabled('#start'), true);
    assert.equal(await page.isEnabled('#stop'), false);
    // A programmatic start() rejects with the same one-line reason.
    await assert.rejects(page.evaluate('window.causeway.start()'), /server full \(HTTP 503\)/);
    assert.deepEqual(
      harness!.errors(page).filter((e) => !isFailedResourceLoad(e)),
      [],
      'no console errors but the browser reporting the 503 itself',
    );
    await page.close();
  });

  it('runs a whole session against an echo peer: audio and video come back, events with latency, RTT, DELETE on Stop', async () => {
    requests.length = 0;
    echoPage = await harness!.page(`${base}/__stub/echo.html`);
    whipMode = 'echo';
    const page = await harness!.page(`${base}/`);
    const started = (await page.evaluate('window.causeway.start({ camera: true, token: "tok-9" })')) as { sessionUrl: string };
    assert.equal(started.sessionUrl, `${base}/whip/stub-1`);
    assert.equal(await page.textContent('#state'), 'connected');

    const offer = sdpSections(requests[0]!.body);
    const video = offer.find((s) => s.media.startsWith('m=video '));
    assert.ok(video?.lines.includes('a=sendrecv'), 'camera on: a sendrecv video m-line');
    assert.equal(await echoPage.evaluate('window.dcLabel'), 'causeway');

    let seen: unknown;
    const stats = await until('returned audio and video, RTT and events', async () => {
      const st = await statsOf(page);
      const hook = await hookOf(page);
      seen = { st, rttMs: hook.rttMs, events: hook.events.length };
      const ready =
        st.inboundAudioBytes > 4000 &&
        (st.inboundAudioLevel ?? 0) > 0.05 &&
        (st.remoteAnalyserLevel ?? 0) > 0.05 &&
        st.inboundVideoFramesDecoded > 3 &&
        hook.rttMs !== null &&
        hook.events.some((e) => e.type === 'speech-end');
      return ready && st;
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}; last seen ${JSON.stringify(seen)}`);
    });
    assert.equal(stats.connectionState, 'connected');
    assert.match(stats.inboundAudioCodec ?? '', /^audio\/opus\/48000/i);
    assert.match(stats.outboundAudioCodec ?? '', /^audio\/opus\/48000/i);
    assert.ok(stats.outboundAudioBytes > 0);
    assert.ok((stats.micAudioLevel ?? 0) > 0.05, `mic level ${stats.micAudioLevel}`);
    assert.ok((stats.micAnalyserLevel ?? 0) > 0.05, `mic analyser level ${stats.micAnalyserLevel}`);
    assert.ok(stats.outboundVideoFramesEncoded > 0);

    const hook = await hookOf(page);
    assert.deepEqual(
      hook.events.filter((e) => e.type !== 'pong').map((e) => e.type),
      ['speech-start', 'partial', 'speech-end'],
    );
    const withWall = hook.log.filter((l) => typeof l.message.wallMs === 'number');
    assert.equal(withWall.length, 2);
    // Bounds for a loaded machine (quiet: tens of ms); what matters here is that the page computes them.
    for (const l of withWall) assert.ok(l.latencyMs !== null && l.latencyMs >= 0 && l.latencyMs < 10_000, `latency ${l.latencyMs}`);
    assert.equal(hook.log.find((l) => l.message.type === 'partial')?.latencyMs, null);
    assert.ok(hook.rttMs !== null && hook.rttMs > 0 && hook.rttMs < 10_000, `rtt ${hook.rttMs}`);
    assert.match((await page.textContent('#rtt')) ?? '', /^\d+\.\d ms$/);
    const items = await page.$$eval('#events li', (lis) => lis.map((li) => li.textContent ?? ''));
    assert.equal(items.length, 3);
    assert.ok(items.some((t) => t.includes('partial') && t.includes('hello from')));
    assert.ok(items.some((t) => t.includes('speech-end') && t.includes('0.000 – 0.480 s') && / ms$/.test(t)));
    // Captions: the partial on show, lighter than the lines, none of which exists yet.
    assert.equal(hook.partial, 'hello from');
    assert.deepEqual(hook.captions, []);
    assert.equal(await page.textContent('#caption-partial'), 'hello from');
    assert.equal(await page.$$eval('#caption-lines li', (lis) => lis.length), 0);
    const partialColor = await page.evaluate('getComputedStyle(document.getElementById("caption-partial")).color');
    const textColor = await page.evaluate('getComputedStyle(document.getElementById("caption-lines")).color');
    assert.notEqual(partialColor, textColor, 'the partial is lighter than the caption lines');

    // Pings reach the peer; send() carries control messages.
    assert.equal(await page.evaluate('window.causeway.send({ type: "control-test", x: 1 })'), true);
    await until('the control message at the peer', async () =>
      ((await echoPage!.evaluate('window.received')) as { type: string }[]).some((m) => m.type === 'control-test'),
    );
    // ...and the peer answers it with the caption's final: a line, the partial gone.
    await page.waitForFunction('window.causeway.captions.length === 1');
    const captioned = await hookOf(page);
    assert.equal(captioned.partial, '');
    assert.deepEqual(
      captioned.captions.map(({ text, startUs, endUs, latencyMs }) => ({ text, startUs, endUs, latencyMs })),
      [{ text: 'hello from the echo peer', startUs: 0, endUs: 480000, latencyMs: null }],
    );
    assert.deepEqual(await page.$$eval('#caption-lines li', (lis) => lis.map((li) => [li.className, li.textContent])), [['final', 'hello from the echo peer']]);
    assert.equal(await page.textContent('#caption-partial'), '');
    assert.equal(await page.textContent('#caption-count'), '(1)');
    const received = (await echoPage.evaluate('window.received')) as { type: string; t?: number }[];
    assert.ok(received.some((m) => m.type === 'ping' && typeof m.t === 'number'));

    const shot = process.env.CAUSEWAY_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot, fullPage: true });

    await page.click('#stop');
    await page.waitForFunction('window.causeway.state === "idle" && window.causeway.deleteStatus !== null');
    const del = requests.filter((r) => r.method === 'DELETE');
    assert.equal(del.length, 1);
    assert.equal(del[0]!.url, '/whip/stub-1');
    assert.equal(del[0]!.headers.authorization, 'Bearer tok-9');
    const after = await hookOf(page);
    assert.equal(after.deleteStatus, 200);
    assert.equal(after.error, null);
    assert.equal(after.events.length >= 4, true, 'events stay readable after Stop');
    assert.equal(after.captions.length, 1, 'captions stay readable after Stop');
    const idle = await statsOf(page);
    assert.equal(idle.state, 'idle');
    assert.equal(idle.inboundAudioBytes, 0);
    assert.equal(await page.isEnabled('#start'), true);
    assert.equal(await page.evaluate('document.getElementById("remote-audio").srcObject'), null);
    assert.deepEqual(harness!.errors(page), []);
    assert.deepEqual(harness!.errors(echoPage), []);
    whipMode = 'refuse';
    await page.close();
  });

  it('close() kills a hung chromium and leaves no chromium process behind', async () => {
    const h = harness!;
    const page = await h.page(`${base}/__stub/echo.html`);
    void page.evaluate('for (;;) {}').catch(() => undefined); // a renderer that never yields
    const pids = await until('the browser, a renderer and a helper process', async () => {
      const p = h.pids();
      return p.length >= 3 ? p : undefined;
    });
    assert.ok(h.browserPid !== undefined && pids.includes(h.browserPid));
    process.kill(h.browserPid, 'SIGSTOP'); // a browser that cannot answer: close() must kill it
    const t0 = Date.now();
    await h.close();
    const ms = Date.now() - t0;
    assert.ok(ms < 15_000, `close took ${ms} ms`);
    await until('no chromium process of this launch (command line holding chromium)', async () => {
      const alive = processesMatching('chromium').filter((pid) => pids.includes(pid));
      return alive.length === 0 && processesMatching(h.userDataDir).length === 0;
    }, 3000);
    assert.deepEqual(h.pids(), []);
    assert.equal(existsSync(h.userDataDir), false, 'profile removed');
    await h.close(); // idempotent
  });
});
