/**
 * Scale-out on loopback (nats-server, one front and one worker as processes) against `causeway
 * serve` alone, same run, werift clients:
 * 1. a WHIP offer's answer time (POST -> 201), which through a front includes the hop over NATS;
 * 2. an event's path to `/events`: a ping on the data channel, its pong on an /events socket
 *    (through the front: the worker publishes it on NATS, the front relays it);
 * 3. the data channel's own round trip (ping -> pong), which is the worker's either way: media
 *    and data-channel events go browser <-> worker directly.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Cluster, freePort, health } from '../cluster/harness.js';
import { pumpAudio, tonePackets } from '../server/fault-clients.js';
import { FakeClient } from '../webrtc/fake-client.js';
import { until } from '../wait.js';
import type { BenchRow } from './row.js';
import { quantile } from './stats.js';

const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const PINGS = 40;
const SESSIONS = 5;

interface Measured {
  answerMs: number[];
  eventsMs: number[];
  channelMs: number[];
}

async function measure(url: string, sessions: number): Promise<Measured> {
  const m: Measured = { answerMs: [], eventsMs: [], channelMs: [] };
  const packets = tonePackets();
  for (let s = 0; s < sessions; s++) {
    const client = await FakeClient.create();
    const pump = { stop: async () => undefined } as { stop(): Promise<void> };
    let ws: WebSocket | undefined;
    try {
      const t0 = performance.now();
      const r = await fetch(`${url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: client.offer });
      if (r.status !== 201) throw new Error(`offer: ${r.status} ${await r.text()}`);
      m.answerMs.push(performance.now() - t0);
      const id = r.headers.get('location')!.split('/').pop()!;
      await client.accept(await r.text());
      Object.assign(pump, pumpAudio(client, packets));
      ws = new WebSocket(`${url.replace('http', 'ws')}/events/${id}`);
      const atSocket = new Map<number, number>();
      ws.on('message', (d) => {
        const e = JSON.parse(String(d)) as { type: string; t?: number };
        if (e.type === 'pong' && typeof e.t === 'number') atSocket.set(e.t, performance.now());
      });
      await new Promise<void>((res, rej) => (ws!.once('open', () => res()), ws!.once('error', rej)));
      // Arrival times taken as the messages arrive (a poll would round them to its period).
      const onChannel = new Map<number, number>();
      client.dc!.onMessage.subscribe((d) => {
        const e = JSON.parse(d.toString()) as { type: string; t?: number };
        if (e.type === 'pong' && typeof e.t === 'number') onChannel.set(e.t, performance.now());
      });
      for (let i = 0; i < PINGS; i++) {
        const t = s * 1000 + i;
        const sent = performance.now();
        client.dc!.send(JSON.stringify({ type: 'ping', t }));
        await until('the pong on the data channel and on /events', 10_000, () => onChannel.has(t) && atSocket.has(t));
        m.channelMs.push(onChannel.get(t)! - sent);
        m.eventsMs.push(atSocket.get(t)! - sent);
      }
    } finally {
      ws?.terminate();
      await pump.stop();
      await client.close();
    }
  }
  return m;
}

export async function benchCluster(): Promise<BenchRow[]> {
  const sessions = SESSIONS;
  // Alone: `causeway serve` on a free port.
  const port = await freePort();
  const alone = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--device', 'cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  alone.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  let single: Measured;
  try {
    const url = await until('the server serving', 90_000, () => /serving on (http:\/\/\S+?)\/ /.exec(out)?.[1], () => out);
    single = await measure(url, sessions);
  } finally {
    alone.kill('SIGKILL');
  }
  const cluster = new Cluster();
  let through: Measured;
  try {
    await cluster.startNats();
    cluster.worker('w1', 8);
    const { url } = await cluster.front();
    await until('the worker live', 90_000, async () => (await health(url)).workers === 1);
    through = await measure(url, sessions);
  } finally {
    await cluster.stop();
  }
  const q = (xs: number[], p: number) => quantile([...xs].sort((a, b) => a - b), p);
  const p50 = (xs: number[]) => q(xs, 0.5);
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const row = (name: string, f: (m: Measured) => number[], notes: string): BenchRow => ({
    name,
    value: ms(p50(f(through))),
    baseline: ms(p50(f(single))),
    ratio: `${p50(f(through)) - p50(f(single)) >= 0 ? '+' : ''}${(p50(f(through)) - p50(f(single))).toFixed(1)} ms`,
    bound: '',
    notes: `p50 (p99 ${ms(q(f(through), 0.99))} vs ${ms(q(f(single), 0.99))}), ${f(through).length} samples each, ${sessions} sessions; ${notes}`,
  });
  return [
    row('scale-out: WHIP answer through a front (NATS) vs serve alone', (m) => m.answerMs, 'POST /whip -> 201 with the answer, on loopback: the front adds a NATS request to the worker'),
    row('scale-out: event to /events through a front vs serve alone', (m) => m.eventsMs, 'a ping on the data channel until its pong on an /events socket: the worker publishes on NATS, the front relays'),
    row('scale-out: data-channel round trip through a front vs serve alone', (m) => m.channelMs, "ping -> pong on the data channel: the browser talks to its worker directly, so this is the worker's own"),
  ];
}
