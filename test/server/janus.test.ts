/**
 * Causeway inside Janus: Debian's Janus 1.1.2 (videoroom plugin, HTTP API, loopback), a real
 * chromium publishing its (fake) microphone into a room, Janus's `rtp_forward` sending the
 * publisher's audio as plain RTP to a Causeway session opened with `POST /rtp`, the session's
 * VAD events on `/events`; `stop_rtp_forward` mid-stream ends the session cleanly (no packets,
 * the idle timeout, reason 'peer-closed').
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { parsePlainSdp } from '../../media/rtp/index.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { launchBrowser, writeWav, type BrowserHarness } from '../browser-harness.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { speechFixture } from '../fixtures-speech.js';
import { janusRequest, ROOM, startJanus, type Janus } from '../media/janus.js';
import { until } from '../wait.js';

/** In the page: the fake microphone into a new RTCPeerConnection; the offer once ICE gathering is complete. */
const PUBLISH = `(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection();
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => {
    if (pc.iceGatheringState === 'complete') return r();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r());
  });
  window.pc = pc;
  return pc.localDescription.sdp;
})()`;

describe('Janus videoroom -> rtp_forward -> Causeway (POST /rtp)', function () {
  this.timeout(180_000);
  let dir: string;
  let janus: Janus | undefined;
  let server: CausewayServer | undefined;
  let browser: BrowserHarness | undefined;
  let blank: Server | undefined;
  let ws: WebSocket | undefined;

  beforeEach(() => {
    dir = makeTempDir('cw-janus-');
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && janus) console.log(janus.out().split('\n').slice(-30).join('\n'));
    ws?.terminate();
    await browser?.close();
    await server?.close();
    await janus?.stop();
    await new Promise<void>((r) => (blank ? blank.close(() => r()) : r()));
    removeDir(dir);
  });

  it('chromium publishes into a room, Janus forwards its audio as RTP, the session hears the speech; stopping the forwarder ends the session', async () => {
    const fx = speechFixture([0.5, 'hello from the video room', 0.8], 48000);
    const wav = join(dir, 'mic.wav');
    writeWav(wav, [fx.samples], 48000);
    janus = await startJanus(dir);
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }), rtpIdleTimeoutSec: 2 });

    // The publisher: chromium on a blank page of its own origin (getUserMedia needs a secure context: 127.0.0.1 is one).
    blank = createServer((_req, res) => res.end('<!doctype html><title>publisher</title>'));
    await new Promise<void>((r) => blank!.listen(0, '127.0.0.1', () => r()));
    browser = await launchBrowser({ fakeAudioWav: wav, fakeVideo: false });
    const page: Page = await browser.page(`http://127.0.0.1:${(blank.address() as { port: number }).port}/`);
    const offer = (await page.evaluate(PUBLISH)) as string;

    const created = await janusRequest(janus.url, { janus: 'create' });
    const sessionUrl = `${janus.url}/${created.data!.id}`;
    const attached = await janusRequest(sessionUrl, { janus: 'attach', plugin: 'janus.plugin.videoroom' });
    const handleUrl = `${sessionUrl}/${attached.data!.id}`;
    const joined = await janusRequest(handleUrl, {
      janus: 'message',
      body: { request: 'joinandconfigure', room: ROOM, ptype: 'publisher', display: 'causeway-test', audio: true, video: false },
      jsep: { type: 'offer', sdp: offer },
    });
    assert.ok(joined.jsep?.type === 'answer', JSON.stringify(joined).slice(0, 500));
    const publisherId = joined.plugindata!.data.id as number;
    await page.evaluate(`window.pc.setRemoteDescription(${JSON.stringify(joined.jsep)})`);
    await until('chromium connected to Janus', 30_000, async () => (await page.evaluate('window.pc.connectionState')) === 'connected');

    // A Causeway session for a plain RTP stream of Opus (chromium's payload type 111), nothing sent back.
    const rtpOffer = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=janus\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n';
    const r = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: rtpOffer });
    assert.equal(r.status, 201, await r.clone().text());
    const id = r.headers.get('location')!.split('/').pop()!;
    const port = parsePlainSdp(await r.text())[0]!.port;
    const events: { type: string }[] = [];
    ws = new WebSocket(`${server.url.replace('http', 'ws')}/events/${id}`);
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as { type: string }));
    const closed = new Promise<void>((res) => ws!.once('close', () => res()));
    await new Promise<void>((res, rej) => (ws!.once('open', () => res()), ws!.once('error', rej)));

    const forward = await janusRequest(handleUrl, {
      janus: 'message',
      body: { request: 'rtp_forward', room: ROOM, publisher_id: publisherId, host: '127.0.0.1', host_family: 'ipv4', streams: [{ mid: '0', port }] },
    });
    const data = forward.plugindata!.data as { videoroom: string; forwarders?: { stream_id: number }[]; error?: string };
    assert.equal(data.videoroom, 'rtp_forward', JSON.stringify(data));
    // The fake microphone loops the file: speech starts and ends within a loop or two.
    await until('speech start and end from the forwarded audio', 30_000, () => events.some((e) => e.type === 'speech-start') && events.some((e) => e.type === 'speech-end'));

    // The forwarder stopped mid-stream: the session ends by itself once the packets stop.
    const streamId = data.forwarders![0]!.stream_id;
    await janusRequest(handleUrl, { janus: 'message', body: { request: 'stop_rtp_forward', room: ROOM, publisher_id: publisherId, stream_id: streamId } });
    await closed;
    await until('the session gone', 5000, () => server!.sessions.size === 0);
    assert.deepEqual(browser.errors(page), []);
  });
});
