/**
 * Fault injection against a real server with werift clients (no browser needed): a session's
 * ffmpeg killed mid-stream, garbage datagrams on a session's UDP port, a client that vanishes
 * mid-ICE (the data-channel flood is in test/webrtc/data-channel.test.ts). Each fault stays inside its session: one clear event for it,
 * the others go on, and nothing grows without bound.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { EMPTY } from 'rxjs';
import { ffmpegPidsOf } from '../../media/webrtc/peer.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import type { SessionPipeline } from '../../src/server/session-pipeline.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { FakeClient } from '../webrtc/fake-client.js';
import { testsrcIvf } from '../webrtc/video-fixtures.js';
import { until } from '../wait.js';
import { rng } from '../helpers-random.js';
import { connectClient, pumpAudio, pumpVideo, tonePackets, type Pump } from './fault-clients.js';

/** The microphone and camera straight back: the peer's Opus and both VP8 ffmpeg processes run. */
const echo: SessionPipeline = ({ audio$, video$ }) => ({ events$: EMPTY, audio$, ...(video$ !== undefined ? { video$ } : {}) });

async function metric(server: CausewayServer, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${pattern.source} (\\S+)$`, 'gm'))) n += Number(m[m.length - 1]);
  return n;
}

const stat = (c: { session: { peer: { stats(): Record<string, number> } } }, name: string): number => c.session.peer.stats()[name] ?? 0;

describe('server fault injection', function () {
  this.timeout(90_000);
  let server: CausewayServer | undefined;
  const clients: FakeClient[] = [];
  const pumps: Pump[] = [];
  let dir: string;
  before(() => {
    dir = makeTempDir('cw-faults-');
  });
  after(() => removeDir(dir));
  afterEach(async () => {
    for (const p of pumps.splice(0)) await p.stop();
    for (const c of clients.splice(0)) await c.close();
    await server?.close();
    server = undefined;
  });

  it("ffmpeg killed mid-stream: that session's client gets one error per process, video resumes; the other session is untouched", async () => {
    server = await startServer({ port: 0, pipeline: echo });
    const frames = testsrcIvf(dir, { width: 320, height: 240, frames: 30, fps: 30, gop: 10 }).frames.map((f) => f.data);
    const tone = tonePackets();
    const a = await connectClient(server, clients, { video: true, videoDirection: 'sendrecv' });
    const b = await connectClient(server, clients, { video: true, videoDirection: 'sendrecv' });
    for (const c of [a, b]) pumps.push(pumpAudio(c.client, tone), pumpVideo(c.client, frames));
    const running = (c: typeof a) => ffmpegPidsOf(c.session.peer).length === 2 && stat(c, 'videoFramesEncoded') > 0;
    await until('both sessions decoding and encoding video', 30_000, () => running(a) && running(b));
    const pidsB = ffmpegPidsOf(b.session.peer);
    const [decoderA, encoderA] = ffmpegPidsOf(a.session.peer);
    const errors = (c: typeof a) => c.events().filter((e) => e.type === 'error');
    const failuresBefore = await metric(server, /causeway_media_process_failures_total\{process="vp8-(decoder|encoder)"\}/);

    process.kill(decoderA, 'SIGKILL');
    await until("A's client told about its decoder", 10_000, () => errors(a).length >= 1);
    let decoded = stat(a, 'videoFramesDecoded');
    await until("A's video decoded again", 15_000, () => stat(a, 'videoFramesDecoded') > decoded + 10);
    process.kill(encoderA, 'SIGKILL');
    await until("A's client told about its encoder", 10_000, () => errors(a).length >= 2);
    const encoded = stat(a, 'videoFramesEncoded');
    await until("A's video encoded again", 15_000, () => stat(a, 'videoFramesEncoded') > encoded + 10);
    decoded = stat(b, 'videoFramesDecoded');
    await until("B's video still decoded", 10_000, () => stat(b, 'videoFramesDecoded') > decoded + 10);

    const [e1, e2] = errors(a);
    assert.equal(errors(a).length, 2, JSON.stringify(errors(a)));
    assert.match(String(e1.message), /VP8 decoder.*killed by SIGKILL.*restarting/);
    assert.match(String(e2.message), /VP8 encoder.*killed by SIGKILL.*restarting/);
    assert.deepEqual(errors(b), []);
    assert.deepEqual(ffmpegPidsOf(b.session.peer), pidsB, "B's ffmpeg processes are the same ones");
    assert.ok(server.sessions.has(a.session.id) && server.sessions.has(b.session.id), 'both sessions still open');
    assert.equal(await metric(server, /causeway_media_process_failures_total\{process="vp8-(decoder|encoder)"\}/), failuresBefore + 2);
  });

  it("random and truncated RTP/RTCP/STUN/DTLS datagrams on a session's port: ignored, the session keeps decoding", async () => {
    server = await startServer({ port: 0, pipeline: echo });
    const c = await connectClient(server, clients);
    pumps.push(pumpAudio(c.client, tone()));
    await until('audio decoded', 10_000, () => stat(c, 'framesDecoded') > 10);
    const port = Number(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/.exec(c.session.peer.answer)?.[1]);
    assert.ok(port > 0, 'the answer has a loopback candidate');
    const garbage = datagrams(3000);
    // From a stranger, and from the client's own (ICE-validated) address, where werift demultiplexes into DTLS and SRTP.
    const stranger = createSocket('udp4');
    try {
      const connection = c.client.pc.iceTransports[0]!.connection;
      for (let i = 0; i < garbage.length; i++) {
        await new Promise<void>((resolve) => stranger.send(garbage[i], port, '127.0.0.1', () => resolve()));
        await connection.send(garbage[i]).catch(() => undefined);
      }
    } finally {
      stranger.close();
    }
    const decoded = stat(c, 'framesDecoded');
    await until('audio still decoded after the garbage', 10_000, () => stat(c, 'framesDecoded') > decoded + 25, () =>
      `open ${server!.sessions.has(c.session.id)}, client ${c.client.pc.connectionState}, ${JSON.stringify(c.session.peer.stats())}`);
    assert.ok(server.sessions.has(c.session.id), 'session still open');
    assert.deepEqual(c.events().filter((e) => e.type === 'error'), []);
    // And the server still takes new sessions.
    await connectClient(server, clients);
  });

  it('a client that vanishes mid-ICE (offer posted, never connects) is reaped within its ICE timeout and frees its slot', async () => {
    server = await startServer({ port: 0, pipeline: echo, maxSessions: 1, peer: { timeoutSec: 1 } });
    const ghost = await FakeClient.create();
    clients.push(ghost);
    const r = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: ghost.offer });
    assert.equal(r.status, 201);
    // Before the ghost can be reaped (1 s from its answer): its slot is still taken.
    const full = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: ghost.offer });
    assert.equal(full.status, 503, 'the ghost holds the only slot meanwhile');
    await ghost.close(); // never takes the answer: no ICE check, no DTLS, nothing
    const t0 = Date.now();
    await until('the ghost session reaped', 10_000, () => server!.sessions.size === 0);
    // 1 s timeout + up to 0.25 s to the next check + up to 2 s of close; 10 s for a loaded machine, far below werift's 30 s.
    assert.ok(Date.now() - t0 < 10_000, `reaped after ${Date.now() - t0} ms`);
    assert.ok((await metric(server, /causeway_sessions_ended_total\{reason="peer-failed"\}/)) >= 1);
    await connectClient(server, clients);
  });
});

function tone(): Uint8Array[] {
  return tonePackets();
}

/**
 * Random datagrams, and truncated ones of each kind werift demultiplexes by first byte. Seeded,
 * so a failure names datagrams that can be replayed.
 */
function datagrams(n: number, seed = 10): Buffer[] {
  const out: Buffer[] = [];
  const r = rng(seed);
  const random = (len: number) => Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
  const truncated = (head: number[], max: number) => {
    const b = Buffer.concat([Buffer.from(head), random(20)]);
    return b.subarray(0, 1 + Math.floor(r() * Math.min(max, b.length)));
  };
  for (let i = 0; i < n; i++) {
    switch (i % 6) {
      case 0:
        out.push(random(1 + Math.floor(r() * 1400)));
        break;
      case 1: // RTP (Opus payload type), header cut short or payload garbage
        out.push(truncated([0x80, 111], 16));
        break;
      case 2: // RTCP sender/receiver report, SDES, BYE, feedback
        out.push(truncated([0x80, 200 + (i % 7)], 12));
        break;
      case 3: // STUN binding request
        out.push(truncated([0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42], 28));
        break;
      case 4: // DTLS handshake / application data
        out.push(truncated([i % 2 ? 22 : 23, 0xfe, 0xfd], 24));
        break;
      default:
        out.push(Buffer.alloc(0));
    }
  }
  return out;
}
