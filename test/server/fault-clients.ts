/**
 * Clients for fault injection against a real server: werift clients (test/webrtc/fake-client.ts)
 * connected over WHIP, and pumps that keep their microphone (Opus) and camera (VP8) streaming at
 * real-time pace until stopped.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { OpusEncoder } from '../../media/webrtc/opus.js';
import { packetizeVp8 } from '../../media/webrtc/vp8-rtp.js';
import type { CausewayServer } from '../../src/server/http-server.js';
import type { Session } from '../../src/server/session.js';
import { sine } from '../webrtc/tone.js';
import { FakeClient, type FakeClientOptions } from '../webrtc/fake-client.js';

export interface Connected {
  readonly client: FakeClient;
  readonly session: Session;
  /** Messages from the data channel, parsed. */
  events(): Array<{ type: string; [k: string]: unknown }>;
}

/** Posts the client's offer and connects; the caller closes `client` (also on failure: it is returned in `opened`). */
export async function connectClient(server: CausewayServer, opened: FakeClient[], options: FakeClientOptions = {}): Promise<Connected> {
  const client = await FakeClient.create(options);
  opened.push(client);
  const r = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: client.offer });
  assert.equal(r.status, 201, await r.clone().text());
  const id = r.headers.get('location')!.split('/').pop()!;
  await client.accept(await r.text());
  const session = server.sessions.get(id);
  assert.ok(session, `session ${id} is open`);
  return { client, session, events: () => client.messages.map((m) => JSON.parse(m) as { type: string }) };
}

/** One second of a 440 Hz tone as 20 ms Opus packets, sent round and round by `pumpAudio`. */
export function tonePackets(): Uint8Array[] {
  const enc = new OpusEncoder(48000, 1);
  const packets = enc.encode(sine(440, 0, 48000, 0.5));
  enc.dispose();
  return packets;
}

/** A running pump; `stop()` ends it and waits for its last send. */
export interface Pump {
  stop(): Promise<void>;
  /** Date.now() when the last send began (0 before the first). */
  readonly lastSendMs: number;
}

function pump(step: (i: number) => Promise<void>, gapMs: number): Pump {
  let running = true;
  let lastSendMs = 0;
  const done = (async () => {
    for (let i = 0; running; i++) {
      lastSendMs = Date.now();
      // A send can fail once the connection is gone; the test looks at what the server saw.
      await step(i).catch(() => undefined);
      await sleep(gapMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
    get lastSendMs() {
      return lastSendMs;
    },
  };
}

/** The client's microphone: Opus packets every 20 ms, sequence numbers and timestamps running on. */
export function pumpAudio(client: FakeClient, packets: Uint8Array[]): Pump {
  return pump((i) => client.sendOpus(i, 960 * i, packets[i % packets.length]), 20);
}

/** The client's camera: VP8 frames (starting with a key frame) at ~30 fps, looped. */
export function pumpVideo(client: FakeClient, frames: readonly Uint8Array[]): Pump {
  let seq = 0;
  return pump(async (i) => {
    const payloads = packetizeVp8(frames[i % frames.length], i);
    for (let k = 0; k < payloads.length; k++) await client.sendVideo(seq++, 3000 * i, payloads[k], k === payloads.length - 1);
  }, 33);
}
