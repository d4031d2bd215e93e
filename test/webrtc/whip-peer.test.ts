/**
 * The WHIP peer against a werift client in the same process, over 127.0.0.1.
 *
 * Leak checks compare process.getActiveResourcesInfo() with a snapshot taken before the client
 * and the peer exist, with zero tolerance for every resource type (sockets, timers, ...), after
 * letting asynchronous socket closes settle for up to 2 s.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom, filter, lastValueFrom, toArray, timeout } from 'rxjs';
import { isCausewayError } from '../../core/errors.js';
import { audioFrame, type AudioFrame } from '../../core/frames.js';
import { setLogSink, type LogSink } from '../../core/log.js';
import { peerConnectionOf } from '../../media/webrtc/peer.js';
import { createWhipPeer, OpusDecoder, OpusEncoder, type PeerState, type WhipPeer, type WhipPeerOptions } from '../../media/webrtc/index.js';
import { FakeClient, OPUS_PT, baseline, settleResources, waitFor, type FakeClientOptions } from './fake-client.js';
import { channel, sine, toneFit } from './tone.js';

const LOOPBACK: WhipPeerOptions = { iceAdditionalHostAddresses: ['127.0.0.1'] };

interface Session {
  client: FakeClient;
  peer: WhipPeer;
  frames: AudioFrame[];
  messages: unknown[];
  states: PeerState[];
}

function tonePackets(count: number, freq = 440, channels: 1 | 2 = 1): Uint8Array[] {
  const enc = new OpusEncoder(48000, channels);
  const packets = enc.encode(sine(freq, 0, 960 * count, 0.5, 48000, channels));
  enc.dispose();
  return packets;
}

/** Frames placed by pts (µs -> sample index) into one buffer: misplaced frames break the tone's phase. */
function byPts(frames: AudioFrame[]): Float32Array {
  const ch = frames[0].channels;
  const last = frames[frames.length - 1];
  const out = new Float32Array(((last.pts * 48) / 1000 + last.data.length / ch) * ch);
  for (const f of frames) out.set(f.data, ((f.pts * 48) / 1000) * ch);
  return out;
}

describe('media/webrtc WhipPeer (werift client over 127.0.0.1)', function () {
  this.timeout(20000);
  const open: Session[] = [];
  /** Log lines of the current test: the peer says why it closed. */
  let logs: string[] = [];
  let prevSink: LogSink;
  before(() => {
    prevSink = setLogSink((_level, line) => logs.push(line));
  });
  after(() => setLogSink(prevSink));
  beforeEach(() => {
    logs = [];
  });

  async function session(client: FakeClientOptions = {}, options: WhipPeerOptions = {}, connect = true): Promise<Session> {
    const c = await FakeClient.create(client);
    const peer = await createWhipPeer(c.offer, { ...LOOPBACK, ...options });
    const s: Session = { client: c, peer, frames: [], messages: [], states: [] };
    peer.audio$.subscribe((f) => s.frames.push(f));
    peer.messages$.subscribe((m) => s.messages.push(m));
    peer.state$.subscribe((st) => s.states.push(st));
    open.push(s);
    if (connect) {
      await c.accept(peer.answer);
      await firstValueFrom(peer.state$.pipe(filter((st) => st === 'connected'), timeout(5000)));
    }
    return s;
  }

  afterEach(async () => {
    for (const s of open.splice(0)) {
      await s.peer.close();
      await s.client.close();
    }
  });

  it('answers with complete non-trickle SDP (sendrecv Opus, 127.0.0.1 candidates, video recvonly) and connects', async () => {
    const s = await session({ video: true });
    const answer = s.peer.answer;
    const sections = answer.split(/\r?\n(?=m=)/);
    const audio = sections.find((x) => x.startsWith('m=audio'));
    const video = sections.find((x) => x.startsWith('m=video'));
    assert.ok(audio !== undefined && video !== undefined, answer);
    assert.match(audio, /a=sendrecv/);
    assert.match(audio, new RegExp(`a=rtpmap:${OPUS_PT} opus/48000/2`, 'i'));
    assert.match(audio, /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    assert.match(audio, /a=end-of-candidates/);
    // Our parameters, not werift's echo of the offer's: mono, and no in-band FEC we could not decode.
    assert.match(audio, new RegExp(`a=fmtp:${OPUS_PT} minptime=10(\r\n|$)`));
    assert.match(video, /a=recvonly/);
    assert.ok(sections.some((x) => x.startsWith('m=application')));
    assert.deepEqual(s.states, ['connecting', 'connected']);
    // state$ replays the current state to a late subscriber.
    assert.equal(await firstValueFrom(s.peer.state$), 'connected');
  });

  it("delivers the client's tone as 48 kHz frames whose pts follow the RTP timestamps (across the 32-bit wrap)", async () => {
    const s = await session();
    const packets = tonePackets(25);
    await s.client.sendTone(packets, [...packets.keys()], 65530, 2 ** 32 - 960 * 5);
    await waitFor(() => s.frames.length >= 25, 3000, '25 frames');
    assert.equal(s.frames.length, 25);
    assert.deepEqual(
      s.frames.map((f) => f.pts),
      packets.map((_, i) => i * 20000),
    );
    for (const f of s.frames) {
      assert.equal(f.sampleRate, 48000);
      assert.equal(f.channels, 1);
      assert.equal(f.data.length, 960);
    }
    assert.ok(s.frames.every((f, i) => i === 0 || f.wallMs >= s.frames[i - 1].wallMs), 'wallMs is the arrival time');
    const fit = toneFit(byPts(s.frames).subarray(960), 440);
    assert.ok(fit > 0.99, `440 Hz tone (fit ${fit.toFixed(4)})`);
    const st = s.peer.stats();
    assert.equal(st.audioPacketsIn, 25);
    assert.equal(st.framesDecoded, 25);
    assert.equal(st.framesConcealed, 0);
  });

  it('keeps pts on the timeline with a dropped and a swapped packet; concealment fills the gap', async () => {
    // A 1 s reorder window: however late the swapped packet comes on a loaded machine, it is still waited for.
    const s = await session({}, { reorderWindowMs: 1000 });
    const packets = tonePackets(40);
    const order = [...packets.keys()].filter((i) => i !== 10);
    order.splice(order.indexOf(20), 2, 21, 20);
    await s.client.sendTone(packets, order, 1000, 123456);
    await waitFor(() => s.frames.length >= 40, 10_000, '40 frames');
    assert.deepEqual(
      s.frames.map((f) => f.pts),
      packets.map((_, i) => i * 20000),
      'continuous: the lost packet concealed in its place, the swapped pair in order',
    );
    const st = s.peer.stats();
    assert.equal(st.packetsLost, 1);
    assert.equal(st.framesConcealed, 1);
    assert.equal(st.packetsReordered, 1);
    assert.equal(st.framesDecoded, 39);
    const signal = byPts(s.frames);
    const fitAll = toneFit(signal.subarray(960), 440);
    const fitAfter = toneFit(signal.subarray(960 * 12), 440);
    assert.ok(fitAll > 0.95, `tone through the concealed packet (fit ${fitAll.toFixed(4)})`);
    assert.ok(fitAfter > 0.99, `tone, in phase, after the gap and the swap (fit ${fitAfter.toFixed(4)})`);
  });

  it('takes a max-bundle offer whose audio section is bundle-only (port 0) behind video', async () => {
    const s = await session({ bundleOnlyAudio: true });
    assert.match(s.client.offer, /m=audio 0 [^]*a=bundle-only/);
    assert.match(s.peer.answer, /m=video 9 [^]*m=audio 9 [^]*a=sendrecv/);
    const packets = tonePackets(5);
    await s.client.sendTone(packets, [...packets.keys()], 0, 0);
    await waitFor(() => s.frames.length >= 5, 3000, '5 frames');
  });

  it('carries JSON both ways, queued until the channel opens; non-JSON gets an error reply and the session goes on', async () => {
    const s = await session({}, {}, false);
    assert.equal(s.peer.send({ type: 'early', n: 1 }), true, 'queued before the client is connected');
    await s.client.accept(s.peer.answer);
    await waitFor(() => s.client.messages.length >= 1, 3000, 'the queued message');
    assert.deepEqual(JSON.parse(s.client.messages[0]), { type: 'early', n: 1 });

    const dc = s.client.dc!;
    dc.send(JSON.stringify({ type: 'hello', text: 'héllo' }));
    dc.send('this is not json {');
    dc.send(JSON.stringify({ type: 'after' }));
    await waitFor(() => s.messages.length >= 2 && s.client.messages.length >= 2, 3000, 'messages both ways');
    assert.deepEqual(s.messages, [{ type: 'hello', text: 'héllo' }, { type: 'after' }]);
    const reply = JSON.parse(s.client.messages[1]) as { type: string; message: string };
    assert.equal(reply.type, 'error');
    assert.match(reply.message, /not JSON/);
    assert.match(reply.message, /this is not json/);

    // Still working: JSON out, audio in.
    assert.equal(s.peer.send({ type: 'caption', text: 'ok' }), true);
    await waitFor(() => s.client.messages.length >= 3, 3000, 'the reply after the error');
    assert.deepEqual(JSON.parse(s.client.messages[2]), { type: 'caption', text: 'ok' });
    const packets = tonePackets(5);
    await s.client.sendTone(packets, [...packets.keys()], 0, 0);
    await waitFor(() => s.frames.length >= 5, 3000, 'audio after the bad message');
    const st = s.peer.stats();
    assert.equal(st.messagesIn, 2);
    assert.equal(st.messagesInvalid, 1);
    assert.equal(st.messagesOut, 3);
    assert.equal(st.messagesDropped, 0);
    assert.throws(() => s.peer.send(undefined), (e: unknown) => isCausewayError(e) && e.code === 'invalid-argument');
  });

  it('sends 48 kHz frames of any size back as Opus RTP the client can decode, timestamps from pts', async () => {
    const s = await session();
    const tone = sine(660, 0, 480 * 50);
    // 10 ms frames (not the 20 ms packet size): 25 packets.
    for (let k = 0; k < 50; k++) s.peer.sendAudio(audioFrame(k * 10000, 48000, 1, tone.subarray(k * 480, (k + 1) * 480)));
    // After 100 ms of nothing, one more packet: its RTP timestamp must jump by 120 ms, marked.
    s.peer.sendAudio(audioFrame(600000, 48000, 1, sine(660, 0, 960)));
    await waitFor(() => s.client.received.length >= 26, 3000, '26 RTP packets at the client');
    const rtp = s.client.received;
    assert.equal(rtp.length, 26);
    for (const [i, p] of rtp.entries()) {
      assert.equal(p.header.payloadType, OPUS_PT);
      if (i === 0) continue;
      assert.equal((p.header.sequenceNumber - rtp[i - 1].header.sequenceNumber) & 0xffff, 1);
      const dts = (p.header.timestamp - rtp[i - 1].header.timestamp + 2 ** 32) % 2 ** 32;
      assert.equal(dts, i === 25 ? 960 * 6 : 960, `timestamp step at ${i}`);
    }
    assert.equal(rtp[0].header.marker, true);
    assert.equal(rtp[25].header.marker, true);
    assert.ok(rtp.slice(1, 25).every((p) => !p.header.marker));
    const dec = new OpusDecoder(48000, 1);
    const pcm = rtp.slice(0, 25).map((p) => dec.decode(p.payload));
    dec.dispose();
    const joined = new Float32Array(960 * 25);
    pcm.forEach((x, i) => joined.set(x, i * 960));
    const fit = toneFit(joined.subarray(960), 660);
    assert.ok(fit > 0.99, `660 Hz tone at the client (fit ${fit.toFixed(4)})`);
    assert.equal(s.peer.stats().audioPacketsOut, 26);

    const invalid = (f: AudioFrame): void =>
      assert.throws(() => s.peer.sendAudio(f), (e: unknown) => isCausewayError(e) && e.code === 'invalid-frame' && !/\n/.test(e.message));
    invalid(audioFrame(0, 16000, 1, new Float32Array(320)));
    invalid(audioFrame(0, 48000, 3, new Float32Array(960 * 3)));
    invalid(audioFrame(0.5, 48000, 1, new Float32Array(960)));
  });

  it('decodes a stereo offer (sprop-stereo=1) to 2 channels and sends stereo back (stereo=1)', async () => {
    const s = await session({ stereo: true });
    assert.match(s.peer.answer, new RegExp(`a=fmtp:${OPUS_PT} minptime=10;stereo=1;sprop-stereo=1\r\n`));
    const packets = tonePackets(10, 440, 2);
    await s.client.sendTone(packets, [...packets.keys()], 0, 0);
    await waitFor(() => s.frames.length >= 10, 3000, '10 stereo frames');
    assert.ok(s.frames.every((f) => f.channels === 2 && f.data.length === 1920));
    // Mono in, stereo on the wire: the TOC's stereo flag (0x04) is set.
    s.peer.sendAudio(audioFrame(0, 48000, 1, sine(440, 0, 960 * 3)));
    await waitFor(() => s.client.received.length >= 3, 3000, 'stereo RTP');
    assert.ok(s.client.received.every((p) => (p.payload[0] & 0x04) !== 0));
    const dec = new OpusDecoder(48000, 2);
    const out = s.client.received.slice(0, 3).map((p) => dec.decode(p.payload))[2];
    dec.dispose();
    const fit = toneFit(channel(out, 2, 1), 440);
    assert.ok(fit > 0.99, `the tone on the right channel too (fit ${fit.toFixed(4)})`);
  });

  it('closes when the client closes (its data channel goes), completes the observables and frees every handle', async () => {
    const before = await baseline();
    const s = await session({ video: true });
    const packets = tonePackets(5);
    await s.client.sendTone(packets, [...packets.keys()], 0, 0);
    // Video with a sequence gap, so that werift's video NACK machinery is running when the client goes.
    for (const seq of [0, 1, 3]) await s.client.sendVideo(seq, seq * 3000, Buffer.from([0x10, 0, 0, 0]));
    await waitFor(() => s.peer.stats().videoPacketsIn === 3, 3000, 'video RTP at the peer');
    const audioDone = lastValueFrom(s.peer.audio$.pipe(toArray()));
    const messagesDone = lastValueFrom(s.peer.messages$.pipe(toArray()));
    const t0 = Date.now();
    await s.client.close();
    await firstValueFrom(s.peer.state$.pipe(filter((st) => st === 'closed'), timeout(10_000)));
    const took = Date.now() - t0;
    // Half the 10 s RTP timeout: the close came from the data channel going (the log line below says so).
    assert.ok(took < 5000, `closed ${took} ms after the client (no need to wait for the RTP timeout)`);
    await audioDone;
    await messagesDone;
    assert.deepEqual(s.states, ['connecting', 'connected', 'closed']);
    assert.ok(logs.some((l) => l.includes('the client closed its data channels')), logs.join('\n'));
    assert.equal(s.peer.send({ late: true }), false);
    s.peer.sendAudio(audioFrame(0, 48000, 1, new Float32Array(960))); // ignored, does not throw
    await s.peer.close(); // idempotent
    open.splice(open.indexOf(s), 1);
    assert.equal(await settleResources(before, 2000), '');
  });

  it('closes a client that stops sending RTP after timeoutSec, and frees every handle', async () => {
    const before = await baseline();
    const s = await session({}, { timeoutSec: 1 });
    const packets = tonePackets(5);
    // Before the first packet: the last one cannot have arrived earlier, so the bound below is exact.
    const t0 = Date.now();
    await s.client.sendTone(packets, [...packets.keys()], 0, 0);
    await firstValueFrom(s.peer.state$.pipe(filter((st) => st === 'closed'), timeout(8000)));
    const took = Date.now() - t0;
    assert.ok(took >= 1000 && took < 5000, `closed ${took} ms after the first packet (timeoutSec 1, checked every 250 ms)`);
    assert.deepEqual(s.states, ['connecting', 'connected', 'closed']);
    const idle = logs.map((l) => /no RTP from the client for (\d+\.\d) s/.exec(l)).find((x) => x);
    assert.ok(idle && Number(idle[1]) >= 1, logs.join('\n'));
    await s.client.close();
    open.splice(open.indexOf(s), 1);
    assert.equal(await settleResources(before, 2000), '');
  });

  it('closes a peer whose client never connects after timeoutSec, and frees every handle', async () => {
    const before = await baseline();
    const client = await FakeClient.create();
    const peer = await createWhipPeer(client.offer, { ...LOOPBACK, timeoutSec: 0.5 });
    const states = lastValueFrom(peer.state$.pipe(toArray(), timeout(3000)));
    await client.close();
    assert.deepEqual(await states, ['connecting', 'failed', 'closed']);
    assert.ok(logs.some((l) => l.includes('the client did not connect within 0.5 s')), logs.join('\n'));
    assert.equal(await settleResources(before, 2000), '');
  });

  // werift itself only reports ICE failure after 30 s of lost consent and never reports
  // 'disconnected', so these drive its connection-state event directly.
  it('rides out a disconnect shorter than the grace, and fails and closes after a longer one', async () => {
    const s = await session({}, { disconnectGraceSec: 0.3 });
    const pc = peerConnectionOf(s.peer)!;
    pc.connectionStateChange.execute('disconnected');
    await sleep(100);
    pc.connectionStateChange.execute('connected');
    await sleep(400);
    assert.deepEqual(s.states, ['connecting', 'connected', 'disconnected', 'connected']);
    const t0 = Date.now();
    pc.connectionStateChange.execute('disconnected');
    await firstValueFrom(s.peer.state$.pipe(filter((st) => st === 'failed'), timeout(5000)));
    const took = Date.now() - t0;
    // Failing is the grace timer's doing (closing after it may take the close's own time).
    assert.ok(took >= 280 && took < 2500, `failed ${took} ms after the disconnect (grace 300 ms)`);
    await firstValueFrom(s.peer.state$.pipe(filter((st) => st === 'closed'), timeout(10_000)));
    assert.deepEqual(s.states, ['connecting', 'connected', 'disconnected', 'connected', 'disconnected', 'failed', 'closed']);
    assert.ok(logs.some((l) => l.includes('still disconnected after 0.3 s')), logs.join('\n'));
  });

  it('fails and closes at once when ICE/DTLS fails', async () => {
    const s = await session();
    peerConnectionOf(s.peer)!.connectionStateChange.execute('failed');
    assert.equal(s.states.at(-1), 'failed', 'at once: in the same turn');
    await firstValueFrom(s.peer.state$.pipe(filter((st) => st === 'closed'), timeout(10_000)));
    assert.deepEqual(s.states, ['connecting', 'connected', 'failed', 'closed']);
  });
});
