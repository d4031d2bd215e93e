/**
 * WHEP viewers of a live WHIP session, both sides werift clients: a viewer gets the session's
 * returned audio (Opus it can decode back to what the WHIP client sent, through the pipeline)
 * and its events; viewers share one pipeline run, a vanished viewer disturbs no one, and
 * DELETE, a session's end and the server's close leave no handles behind.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { bufferCount, map } from 'rxjs';
import { join } from 'node:path';
import { OpusDecoder, OpusEncoder } from '../../media/webrtc/index.js';
import { RtpVideoReceiver, type EncodedVideoFrame } from '../../media/webrtc/rtp-video-receiver.js';
import { packetizeVp8 } from '../../media/webrtc/vp8-rtp.js';
import { videoMirror } from '../../operators/video-mirror.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { psnr, referenceDecode, testsrcIvf, writeIvf } from '../webrtc/video-fixtures.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import type { SessionPipeline } from '../../src/server/session-pipeline.js';
import { FakeClient, baseline, settleResources, waitFor } from '../webrtc/fake-client.js';
import { sine, toneFit } from '../webrtc/tone.js';

const TOKEN = 'w4tch';
const auth = { Authorization: `Bearer ${TOKEN}` };

/** The microphone back as it came, the camera mirrored, and one event per 10 frames; counts its own runs. */
let pipelineRuns = 0;
const echo: SessionPipeline = ({ audio$, video$ }) => {
  pipelineRuns++;
  return {
    audio$,
    ...(video$ !== undefined ? { video$: video$.pipe(videoMirror()) } : {}),
    events$: audio$.pipe(
      bufferCount(10),
      map((fs) => ({ type: 'frames', startUs: fs[0].pts, endUs: fs[fs.length - 1].pts })),
    ),
  };
};

function tonePackets(count: number, freq: number): Uint8Array[] {
  const enc = new OpusEncoder(48000, 1);
  const packets = enc.encode(sine(freq, 0, 960 * count));
  enc.dispose();
  return packets;
}

async function post(server: CausewayServer, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...auth, ...headers }, body });
}

describe('server WHEP: watch-only viewers of a live session', function () {
  this.timeout(30_000);
  let server: CausewayServer;
  const clients: FakeClient[] = [];
  const client = async (o: Parameters<typeof FakeClient.create>[0] = {}) => {
    const c = await FakeClient.create(o);
    clients.push(c);
    return c;
  };
  const viewer = () => client({ audioDirection: 'recvonly' });

  before(async () => {
    server = await startServer({ port: 0, token: TOKEN, pipeline: echo, maxViewers: 2, viewerTimeoutSec: 4 });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server.close();
  });

  /** A WHIP session with its client connected; returns the session id and its client. */
  async function whipSession(): Promise<{ id: string; location: string; mic: FakeClient }> {
    const mic = await client();
    const r = await post(server, '/whip', mic.offer);
    assert.equal(r.status, 201);
    const location = r.headers.get('location')!;
    await mic.accept(await r.text());
    return { id: location.split('/').pop()!, location, mic };
  }

  it("a viewer hears the WHIP client's audio through the pipeline and gets its events; DELETE ends only the viewer", async () => {
    const before = await baseline();
    const runsBefore = pipelineRuns;
    const { id, location, mic } = await whipSession();
    const v1 = await viewer();
    const v2 = await viewer();
    const r1 = await post(server, `/whep/${id}`, v1.offer);
    assert.equal(r1.status, 201);
    assert.equal(r1.headers.get('content-type'), 'application/sdp');
    const viewerLocation = r1.headers.get('location')!;
    assert.match(viewerLocation, new RegExp(`^/whep/${id}/[0-9a-f-]{36}$`));
    const answer = await r1.text();
    assert.match(answer, /m=audio[^]*a=sendonly/);
    await v1.accept(answer);
    const r2 = await post(server, `/whep/${id}`, v2.offer);
    assert.equal(r2.status, 201);
    await v2.accept(await r2.text());
    const session = server.sessions.get(id)!;
    assert.equal(session.viewers, 2);

    const packets = tonePackets(60, 440);
    await mic.sendTone(packets, [...packets.keys()], 0, 0, 5);
    await waitFor(() => v1.received.length >= 55 && v2.received.length >= 55, 5000, 'Opus at both viewers');
    await waitFor(() => v1.messages.length >= 5 && v2.messages.length >= 5, 3000, 'events at both viewers');
    assert.equal(pipelineRuns, runsBefore + 1, 'one pipeline run, shared');
    for (const v of [v1, v2]) {
      const dec = new OpusDecoder(48000, 1);
      const pcm = v.received.map((p) => dec.decode(p.payload));
      dec.dispose();
      const joined = new Float32Array(pcm.reduce((n, x) => n + x.length, 0));
      pcm.reduce((off, x) => (joined.set(x, off), off + x.length), 0);
      const fit = toneFit(joined.subarray(960 * 2), 440);
      assert.ok(fit > 0.95, `the 440 Hz tone at the viewer (fit ${fit.toFixed(4)})`);
      const events = v.messages.map((m) => JSON.parse(m));
      assert.ok(events.every((e) => e.type === 'frames'), JSON.stringify(events.slice(0, 3)));
      assert.deepEqual(events[0], { type: 'frames', startUs: 0, endUs: 180000 });
    }
    // The same events went to the WHIP client.
    const micEvents = mic.messages.map((m) => JSON.parse(m)).filter((e) => e.type === 'frames');
    assert.deepEqual(micEvents.slice(0, 5), v1.messages.slice(0, 5).map((m) => JSON.parse(m)));

    // A third viewer is one too many.
    const v3 = await viewer();
    const r3 = await post(server, `/whep/${id}`, v3.offer);
    assert.equal(r3.status, 503);
    assert.equal(r3.headers.get('retry-after'), '5');

    assert.equal((await fetch(`${server.url}${viewerLocation}`, { method: 'DELETE' })).status, 401);
    assert.equal((await fetch(`${server.url}${viewerLocation}`, { method: 'DELETE', headers: auth })).status, 200);
    assert.equal(session.viewers, 1);
    assert.equal((await fetch(`${server.url}${viewerLocation}`, { method: 'DELETE', headers: auth })).status, 404);
    // The session and the other viewer go on.
    const n2 = v2.received.length;
    await mic.sendTone(packets.slice(0, 10), [...Array(10).keys()], 60, 960 * 60, 5);
    await waitFor(() => v2.received.length >= n2 + 9, 3000, 'audio at the remaining viewer');

    // Ending the session ends its viewers.
    assert.equal((await fetch(`${server.url}${location}`, { method: 'DELETE', headers: auth })).status, 200);
    assert.equal(server.sessions.size, 0);
    assert.equal(session.viewers, 0);
    for (const c of clients.splice(0)) await c.close();
    // fetch keeps its HTTP connections to the server alive (until the server's 5 s keep-alive
    // timeout): those sockets are the HTTP client's, not a session's.
    assert.equal(await settleResources(before, 3000, { TCPSocketWrap: 2 }), '');
  });

  it('a viewer that never connects is dropped after the timeout while the session and the other viewer go on', async () => {
    const { id, location, mic } = await whipSession();
    const good = await viewer();
    const ghost = await viewer();
    const rg = await post(server, `/whep/${id}`, good.offer);
    await good.accept(await rg.text());
    const rx = await post(server, `/whep/${id}`, ghost.offer);
    assert.equal(rx.status, 201);
    await ghost.close(); // never takes its answer
    const session = server.sessions.get(id)!;
    assert.equal(session.viewers, 2);
    const packets = tonePackets(300, 440);
    // 6 s of audio at real-time pace, the viewer timeout (4 s: werift's receiver reports come every
    // 0.5-1.5 s, so a good viewer must not be dropped by a stall) in the middle of it.
    const sending = mic.sendTone(packets, [...packets.keys()], 0, 0, 20);
    await waitFor(() => session.viewers === 1, 15_000, 'the ghost viewer dropped');
    await sending;
    await waitFor(() => good.received.length >= 295, 10_000, 'every packet at the good viewer');
    assert.equal(server.sessions.size, 1, 'the session is still up');
    await fetch(`${server.url}${location}`, { method: 'DELETE', headers: auth });
    for (const c of clients.splice(0)) await c.close();
  });

  it("a viewer that offers video gets the session's returned (mirrored) camera as VP8", async () => {
    const dir = makeTempDir('cw-whep-');
    try {
      const src = testsrcIvf(dir, { width: 320, height: 240, frames: 30, fps: 30, gop: 30 });
      // ffmpeg's own hflip, not our operator, makes the reference.
      const mirrored = referenceDecode(src.path, 320, 240, 'hflip');
      const unmirrored = referenceDecode(src.path, 320, 240);
      const cam = await client({ video: true });
      const r = await post(server, '/whip', cam.offer);
      const location = r.headers.get('location')!;
      await cam.accept(await r.text());
      const v = await client({ audioDirection: 'recvonly', video: true, videoDirection: 'recvonly' });
      const rv = await post(server, `/whep/${location.split('/').pop()}`, v.offer);
      assert.equal(rv.status, 201);
      const answer = await rv.text();
      assert.match(answer, /m=video[^]*a=sendonly/);
      await v.accept(answer);
      // The 30 frames on a loop (each loop starts with a key frame) at about a camera's pace, until
      // the viewer has 12 frames: the server's decoder and the viewer's encoder start meanwhile,
      // as in a call, and drop what comes while they do (more or less, with the load).
      const framesAtViewer = () => v.receivedVideo.filter((p) => p.header.marker).length;
      let seq = 0;
      for (let n = 0; n < 300 && framesAtViewer() < 12; n++) {
        const payloads = packetizeVp8(src.frames[n % 30].data, n);
        for (const [k, p] of payloads.entries()) await cam.sendVideo(seq++, 3000 * n, p, k === payloads.length - 1);
        await sleep(30);
      }
      await sleep(200);
      const got: EncodedVideoFrame[] = [];
      const rx = new RtpVideoReceiver({ onFrame: (f) => got.push(f), onKeyframeNeeded: () => {} });
      for (const p of v.receivedVideo) rx.push({ ...p.header, payload: p.payload }, 0);
      rx.flush();
      rx.dispose();
      assert.ok(got.length >= 12, `${got.length} frames at the viewer`);
      assert.ok(got[0].keyframe);
      const path = join(dir, 'viewer.ivf');
      writeIvf(path, got.map((f) => f.data), 320, 240);
      const decoded = referenceDecode(path, 320, 240);
      // The viewer's encoder starts on the first frame it is given (some may be dropped while
      // ffmpeg starts): find which source frame came first, then follow the RTP timestamps.
      const scores = mirrored.map((m) => psnr(decoded[0], m));
      const i0 = scores.indexOf(Math.max(...scores));
      for (const [k, f] of got.entries()) {
        const i = (i0 + Math.round((f.t - got[0].t) / 3000)) % 30;
        const db = psnr(decoded[k], mirrored[i]);
        assert.ok(db >= 25, `frame ${i} at the viewer: PSNR ${db.toFixed(1)} dB vs the mirrored source`);
        assert.ok(psnr(decoded[k], unmirrored[i]) < db - 5, `frame ${i} is mirrored`);
      }
      await fetch(`${server.url}${location}`, { method: 'DELETE', headers: auth });
      for (const c of clients.splice(0)) await c.close();
    } finally {
      removeDir(dir);
    }
  });

  it('refuses a viewer of an unknown session (404), a malformed offer (400), a wrong type (415) or token (401)', async () => {
    const v = await viewer();
    const unknown = '00000000-0000-0000-0000-000000000000';
    let r = await post(server, `/whep/${unknown}`, v.offer);
    assert.equal(r.status, 404);
    assert.match(await r.text(), /no session/);
    const { id, location } = await whipSession();
    r = await post(server, `/whep/${id}`, 'v=0\r\nthis is not an offer\r\n');
    assert.equal(r.status, 400);
    assert.match(await r.text(), /bad WHEP offer/);
    const noAudio = v.offer.split(/\r\n(?=m=)/).filter((x) => !x.startsWith('m=audio')).join('\r\n');
    r = await post(server, `/whep/${id}`, noAudio);
    assert.equal(r.status, 400);
    assert.match(await r.text(), /recvonly audio/);
    r = await post(server, `/whep/${id}`, v.offer, { 'Content-Type': 'text/plain' });
    assert.equal(r.status, 415);
    r = await post(server, `/whep/${id}`, v.offer, { Authorization: 'Bearer nope' });
    assert.equal(r.status, 401);
    assert.equal((await fetch(`${server.url}/whep/${id}/${unknown}`, { method: 'DELETE', headers: auth })).status, 404);
    assert.equal((await fetch(`${server.url}/whep`, { method: 'POST', headers: auth })).status, 404);
    assert.equal(server.sessions.get(id)!.viewers, 0, 'no viewer left behind by a refused offer');
    await fetch(`${server.url}${location}`, { method: 'DELETE', headers: auth });
    await sleep(10);
    for (const c of clients.splice(0)) await c.close();
  });
});
