/**
 * 100 connect/vanish cycles against one real server: a werift client connects over WHIP, streams
 * Opus and VP8 (so the session's ffmpeg decoder and encoder run), then vanishes the way a killed
 * browser tab does: no DELETE, no DTLS close_notify, no SCTP abort, just silence. The server must
 * reap every one of them by its RTP liveness timeout, and after warm-up the process's file
 * descriptors, active handles, child processes and RSS must stay flat.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { EMPTY } from 'rxjs';
import { ffmpegPidsOf } from '../../media/webrtc/peer.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import type { SessionPipeline } from '../../src/server/session-pipeline.js';
import type { Session } from '../../src/server/session.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { collectGarbage } from '../gc.js';
import { childProcesses } from '../processes.js';
import { FakeClient } from '../webrtc/fake-client.js';
import { testsrcIvf } from '../webrtc/video-fixtures.js';
import { until } from '../wait.js';
import { pumpAudio, pumpVideo, tonePackets, type Pump } from './fault-clients.js';

/** The microphone and camera straight back: the peer's Opus path and both VP8 ffmpeg processes run. */
const echo: SessionPipeline = ({ audio$, video$ }) => ({ events$: EMPTY, audio$, ...(video$ !== undefined ? { video$ } : {}) });

const CYCLES = 100;
/** Cycles running at once: one after another each costs ~4 s, mostly the wait for the reaper. */
const CONCURRENT = 10;
/** Cycles between checkpoints, where everything must have settled. */
const SEGMENT = 20;
/** Cycles before the baseline: werift, opusscript's WASM heap and V8's code caches settle first. */
const WARMUP = 20;
const TIMEOUT_S = 3;
/**
 * RSS growth allowed from cycle 20 to 100, after a full gc. Measured on 2 busy cores, four runs:
 * +0.3, +1.2, +2.3 and +2.6 MB, checkpoints wandering up to 4 MB (the allocator keeps freed pages).
 * 16 MB is four times that, and fails a leak of 200 KB or more per cycle; smaller ones are below
 * what RSS can resolve here (a leaked session shows in fds, handles and children first).
 */
const RSS_BOUND_MB = 16;

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const handleCount = (): number => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
const ffmpegChildren = () => childProcesses().filter((c) => c.comm.startsWith('ffmpeg'));

/**
 * What a killed tab leaves: its packets stop. werift's close() would send DTLS close_notify
 * (the server ends the session on that at once) and an SCTP abort, so every outgoing datagram of
 * the client's ICE sockets is dropped before the close that frees the client's own resources.
 */
async function vanish(client: FakeClient): Promise<void> {
  for (const transport of client.pc.iceTransports) {
    const protocols = (transport.connection as unknown as { protocols: Array<{ transport?: { send: unknown } }> }).protocols;
    assert.ok(protocols.length > 0, 'the client has ICE sockets to silence');
    for (const p of protocols) if (p.transport !== undefined) p.transport.send = async () => undefined;
  }
  await client.close();
}

interface Sample {
  cycle: number;
  fds: number;
  handles: number;
  children: number;
  rssMb: number;
}

describe('server: 100 clients connect and vanish', function () {
  this.timeout(300_000);
  let server: CausewayServer | undefined;
  let dir: string;
  const clients: FakeClient[] = [];
  const pumps: Pump[] = [];

  before(() => {
    dir = makeTempDir('cw-vanish-');
  });
  afterEach(async () => {
    for (const p of pumps.splice(0)) await p.stop();
    for (const c of clients.splice(0)) await c.close();
    await server?.close();
    server = undefined;
  });
  after(() => removeDir(dir));

  it('every vanished session is reaped; fds, handles, child processes and RSS stay flat after warm-up', async () => {
    // timeoutSec 3: the reaper is the same code path as the default 4 s, just sooner; it also
    // bounds connecting (answer to first RTP), which took over 1 s on two busy cores.
    server = await startServer({ port: 0, pipeline: echo, maxSessions: CONCURRENT, peer: { timeoutSec: TIMEOUT_S } });
    const srv = server;
    const frames = testsrcIvf(dir, { width: 160, height: 120, frames: 10, fps: 30, gop: 5 }).frames.map((f) => f.data);
    const tone = tonePackets();
    const stat = (peer: { stats(): Record<string, number> }, name: string) => peer.stats()[name] ?? 0;
    const reapedPids = new Set<number>();
    const reapMs: number[] = [];
    let handshakes = 0;
    const t0 = Date.now();

    const cycle = async (): Promise<void> => {
      // Two handshakes at a time: ten at once on two busy cores overran the client's 5 s connect deadline.
      await until('a handshake slot', 60_000, () => handshakes < 2 && ++handshakes);
      let session: Session | undefined;
      let client!: FakeClient;
      const own: Pump[] = [];
      try {
        client = await FakeClient.create({ video: true, videoDirection: 'sendrecv' });
        clients.push(client);
        // Pumping from before the answer (werift drops RTP until DTLS is up), as a browser does:
        // the server reaps a connected peer that sends no RTP within TIMEOUT_S, and on a busy
        // machine the data channel opens late.
        own.push(pumpAudio(client, tone), pumpVideo(client, frames));
        pumps.push(...own);
        const r = await fetch(`${srv.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: client.offer });
        assert.equal(r.status, 201, await r.clone().text());
        session = srv.sessions.get(r.headers.get('location')!.split('/').pop()!);
        assert.ok(session, 'the session is open');
        await client.accept(await r.text());
      } finally {
        handshakes--;
      }
      const c = { client, session: session! };
      const peer = c.session.peer;
      await until('audio decoded and video decoded and re-encoded by two ffmpeg processes', 30_000, () => {
        if (!srv.sessions.has(session!.id)) throw new Error(`session ${session!.id} ended before it streamed (connecting took over ${TIMEOUT_S} s?)`);
        return stat(peer, 'framesDecoded') > 0 && stat(peer, 'videoFramesEncoded') > 0 && ffmpegPidsOf(peer).length === 2;
      }, () => `${JSON.stringify(peer.stats())}, ffmpeg ${ffmpegPidsOf(peer).length}`);
      for (const pid of ffmpegPidsOf(peer)) reapedPids.add(pid);
      for (const p of own) {
        await p.stop();
        pumps.splice(pumps.indexOf(p), 1);
      }
      // The last packet left no earlier than its send began: the server's silence starts there at the earliest.
      const gone = Math.max(...own.map((p) => p.lastSendMs));
      await vanish(c.client);
      clients.splice(clients.indexOf(c.client), 1);
      // Reaped by the liveness timer (TIMEOUT_S without RTP, checked every 750 ms); 20 s is for a loaded machine.
      await until(`session ${c.session.id} reaped`, 20_000, () => !srv.sessions.has(c.session.id));
      reapMs.push(Date.now() - gone);
    };

    const samples: Sample[] = [];
    // JS heap + memory outside it (Buffers, opusscript's WASM), printed beside RSS, which the allocator keeps high.
    const heldMb = () => {
      const u = process.memoryUsage();
      return (u.heapUsed + u.external) / 2 ** 20;
    };
    const settledMb: number[] = [];
    const settle = async (cycle: number): Promise<Sample> => {
      // Teardown finishes after the session leaves the map (ffmpeg exits, sockets close): wait for it.
      await until(`all sessions and ffmpeg children gone after cycle ${cycle}`, 20_000, () => srv.sessions.size === 0 && ffmpegChildren().length === 0,
        () => `sessions ${srv.sessions.size}, children ${JSON.stringify(childProcesses())}`);
      collectGarbage();
      settledMb.push(heldMb());
      const s = { cycle, fds: fdCount(), handles: handleCount(), children: childProcesses().length, rssMb: process.memoryUsage().rss / 2 ** 20 };
      samples.push(s);
      return s;
    };

    const before = { fds: fdCount(), handles: handleCount(), children: childProcesses().length };
    let baseline: Sample | undefined;
    for (let done = 0; done < CYCLES; done += SEGMENT) {
      // CONCURRENT workers share the segment's cycles. A failed cycle stops its worker only, and
      // every worker ends (each wait is bounded) before the test does: a cycle still connecting
      // after afterEach would hold a client open.
      let next = done;
      const worker = async () => {
        while (next < done + SEGMENT) {
          next++;
          await cycle();
        }
      };
      const results = await Promise.allSettled(Array.from({ length: CONCURRENT }, worker));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      const s = await settle(done + SEGMENT);
      if (done + SEGMENT === WARMUP) baseline = s;
      if (baseline !== undefined && s !== baseline) {
        // Small slack: a socket or timer of werift's that closes a tick late, mocha's own timers.
        const flat = () => fdCount() <= baseline!.fds + 3 && handleCount() <= baseline!.handles + 3;
        await until(`fds and handles back to the baseline after cycle ${s.cycle}`, 10_000, flat, () =>
          `fds ${fdCount()} (baseline ${baseline!.fds}), handles ${handleCount()} (baseline ${baseline!.handles}): ${process.getActiveResourcesInfo().join(',')}`);
      }
    }
    const last = samples[samples.length - 1]!;
    const elapsed = (Date.now() - t0) / 1000;
    console.log(`      ${CYCLES} cycles in ${elapsed.toFixed(1)} s; before: fds ${before.fds}, handles ${before.handles}, children ${before.children}`);
    samples.forEach((s, i) => console.log(`      cycle ${String(s.cycle).padStart(3)}: fds ${s.fds}, handles ${s.handles}, children ${s.children}, rss ${s.rssMb.toFixed(1)} MB; heap+external ${settledMb[i]!.toFixed(1)} MB`));

    reapMs.sort((a, b) => a - b);
    console.log(`      reaped ${reapMs[0]}-${reapMs[reapMs.length - 1]} ms after vanishing (median ${reapMs[reapMs.length >> 1]})`);
    assert.equal(srv.sessions.size, 0);
    assert.equal(reapMs.length, CYCLES);
    // A DTLS close_notify ends a session within 300 ms; only the RTP timeout takes this long, so
    // no client told the server it was leaving.
    assert.ok(reapMs[0]! >= TIMEOUT_S * 1000 - 20, `a session ended ${reapMs[0]} ms after its client vanished: the client was not silent`);
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg child left');
    assert.ok(reapedPids.size >= 2 * CYCLES, `each session ran its own two ffmpeg processes (${reapedPids.size} pids seen)`);
    assert.ok(last.children <= before.children, `child processes ${before.children} -> ${last.children}`);
    assert.ok(baseline !== undefined);
    assert.ok(last.fds <= baseline.fds + 3, `fds ${baseline.fds} at cycle ${WARMUP} -> ${last.fds} at ${CYCLES}`);
    assert.ok(last.handles <= baseline.handles + 3, `handles ${baseline.handles} at cycle ${WARMUP} -> ${last.handles} at ${CYCLES}`);
    const growth = last.rssMb - baseline.rssMb;
    assert.ok(growth < RSS_BOUND_MB, `RSS grew ${growth.toFixed(1)} MB from cycle ${WARMUP} to ${CYCLES} (bound ${RSS_BOUND_MB} MB)`);
    const ended = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(ended, /causeway_sessions_ended_total\{reason="peer-(failed|closed)"\} \d+/);
  });
});
