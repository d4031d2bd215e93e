/**
 * The plain RTP edge against the WHIP path, same run, same process, same Opus packets at 20 ms
 * pace: from a packet's send to its decoded frame leaving the edge (rtpAudioInput's frames;
 * the WHIP peer's audio$ behind a real WebRTC connection from a werift client). What the
 * pipeline does after the edge is the same for both.
 */
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { Subject } from 'rxjs';
import { RtpHeader, RtpPacket } from 'werift';
import { rtpAudioInput } from '../../media/rtp/index.js';
import { startServer } from '../../src/server/http-server.js';
import type { SessionPipeline } from '../../src/server/session-pipeline.js';
import { tonePackets } from '../server/fault-clients.js';
import { FakeClient } from '../webrtc/fake-client.js';
import { until } from '../wait.js';
import type { BenchRow } from './row.js';
import { quantile } from './stats.js';

const PACKETS = 250;

/** A pipeline that only watches the microphone: the edge is all there is to measure. */
const watch = (onFrame: (pts: number) => void): SessionPipeline =>
  (({ audio$ }) => {
    audio$.subscribe((f) => onFrame(f.pts));
    return { events$: new Subject<never>() };
  }) as SessionPipeline;

export async function benchRtp(): Promise<BenchRow[]> {
  const packets = tonePackets();
  // Plain RTP: a UDP socket in this process sends to rtpAudioInput.
  const rtpMs: number[] = [];
  {
    const sentAt = new Map<number, number>();
    let port = 0;
    const sub = rtpAudioInput({ port: 0, payloadType: 111, onListening: (p) => (port = p) }).subscribe((f) => {
      const t = sentAt.get(Math.round(f.pts / 20000));
      if (t !== undefined) rtpMs.push(performance.now() - t);
    });
    const out = createSocket('udp4');
    try {
      await until('the RTP input listening', 5000, () => port > 0);
      for (let i = 0; i < PACKETS; i++) {
        const p = new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: i, timestamp: 960 * i, ssrc: 1234 }), Buffer.from(packets[i % packets.length]!));
        sentAt.set(i, performance.now());
        out.send(p.serialize(), port, '127.0.0.1');
        await sleep(20);
      }
      await until('the last frames', 5000, () => rtpMs.length >= PACKETS - 2);
    } finally {
      sub.unsubscribe();
      out.close();
    }
  }
  // WHIP: a werift client through a real WebRTC connection to the server in this process.
  const whipMs: number[] = [];
  {
    const sentAt = new Map<number, number>();
    const server = await startServer({ port: 0, pipeline: watch((pts) => {
      const t = sentAt.get(Math.round(pts / 20000));
      if (t !== undefined) whipMs.push(performance.now() - t);
    }) });
    const client = await FakeClient.create();
    try {
      const r = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: client.offer });
      await client.accept(await r.text());
      for (let i = 0; i < PACKETS; i++) {
        sentAt.set(i, performance.now());
        await client.sendOpus(i, 960 * i, packets[i % packets.length]!);
        await sleep(20);
      }
      await until('the last frames', 5000, () => whipMs.length >= PACKETS - 2);
    } finally {
      await client.close();
      await server.close();
    }
  }
  const q = (xs: number[], p: number) => quantile([...xs].sort((a, b) => a - b), p);
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  return [
    {
      name: 'plain RTP edge vs WHIP edge: packet sent -> decoded frame out',
      value: ms(q(rtpMs, 0.5)),
      baseline: ms(q(whipMs, 0.5)),
      ratio: `${(q(rtpMs, 0.5) - q(whipMs, 0.5)).toFixed(2)} ms`,
      bound: '',
      notes: `p50 over ${rtpMs.length} and ${whipMs.length} Opus packets at 20 ms pace on loopback (p99 ${ms(q(rtpMs, 0.99))} vs ${ms(q(whipMs, 0.99))}); the RTP edge: UDP socket -> rtpAudioInput; WHIP: werift client -> DTLS/SRTP -> the server's WHIP peer`,
    },
  ];
}
