import assert from 'node:assert/strict';
import { until } from '../wait.js';
import type { AudioFrame } from '../../core/frames.js';
import { OpusEncoder } from '../../media/webrtc/index.js';
import { RtpAudioReceiver, type RtpAudioPacket } from '../../media/webrtc/rtp-audio-receiver.js';
import { sine, toneFit } from './tone.js';

const FRAME_US = 20000;

function tonePackets(count: number, freq = 440, channels: 1 | 2 = 1): Uint8Array[] {
  const enc = new OpusEncoder(48000, channels);
  const packets = enc.encode(sine(freq, 0, 960 * count, 0.5, 48000, channels));
  enc.dispose();
  return packets;
}

interface Harness {
  rx: RtpAudioReceiver;
  frames: AudioFrame[];
  /** Pushes packet i of `payloads` as sequence seq0+i, timestamp ts0+960*i. */
  push(i: number, extra?: Partial<RtpAudioPacket>): void;
}

function harness(payloads: Uint8Array[], seq0: number, ts0: number, channels: 1 | 2 = 1): Harness {
  const frames: AudioFrame[] = [];
  const rx = new RtpAudioReceiver({ channels, onFrame: (f) => frames.push(f) });
  return {
    rx,
    frames,
    push: (i, extra = {}) =>
      rx.push(
        {
          ssrc: 1234,
          sequenceNumber: (seq0 + i) & 0xffff,
          timestamp: (ts0 + 960 * i) % 2 ** 32,
          payload: payloads[i],
          ...extra,
        },
        1000 + i,
      ),
  };
}

/** Frames follow each other with no gap or overlap, starting at pts 0. */
function assertContinuous(frames: AudioFrame[]): void {
  let pts = 0;
  for (const [i, f] of frames.entries()) {
    assert.equal(f.pts, pts, `frame ${i} pts`);
    assert.equal(f.sampleRate, 48000);
    pts += ((f.data.length / f.channels) * 1e6) / 48000;
  }
}

function joined(frames: AudioFrame[]): Float32Array {
  const out = new Float32Array(frames.reduce((n, f) => n + f.data.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f.data, at);
    at += f.data.length;
  }
  return out;
}

describe('media/webrtc RtpAudioReceiver', () => {
  const payloads = tonePackets(30);

  it('decodes in-order packets across the sequence and timestamp wraps: pts from the RTP timestamp', () => {
    const h = harness(payloads, 65530, 2 ** 32 - 960 * 3);
    for (let i = 0; i < 12; i++) h.push(i);
    assert.equal(h.frames.length, 12);
    assertContinuous(h.frames);
    assert.deepEqual(
      h.frames.map((f) => f.pts),
      Array.from({ length: 12 }, (_, i) => i * FRAME_US),
    );
    assert.ok(h.frames.every((f) => f.data.length === 960 && f.channels === 1));
    assert.deepEqual(
      h.frames.map((f) => f.wallMs),
      Array.from({ length: 12 }, (_, i) => 1000 + i),
      'wallMs is the arrival time',
    );
    assert.equal(h.rx.stats.framesDecoded, 12);
    assert.equal(h.rx.stats.framesConcealed, 0);
    h.rx.dispose();
  });

  it('conceals a lost packet in its place once four later packets (> 60 ms of RTP time) have arrived', () => {
    const h = harness(payloads, 100, 5000);
    for (let i = 0; i < 9; i++) if (i !== 5) h.push(i);
    assert.equal(h.frames.length, 5, 'packets 6..8 wait for 5 (60 ms of RTP time)');
    h.push(9);
    assert.equal(h.frames.length, 10, 'packet 9 gives up on 5: concealed, then 6..9');
    for (let i = 10; i < 20; i++) h.push(i);
    assert.equal(h.frames.length, 20);
    assertContinuous(h.frames);
    assert.equal(h.rx.stats.packetsLost, 1);
    assert.equal(h.rx.stats.framesConcealed, 1);
    assert.equal(h.rx.stats.framesDecoded, 19);
    // Stamped with the arrival of the packet after the gap, like that packet, so frame age shows the wait.
    assert.equal(h.frames[5].wallMs, 1000 + 6);
    const fit = toneFit(joined(h.frames).subarray(960), 440);
    assert.ok(fit > 0.95, `tone across the concealed packet (fit ${fit.toFixed(3)})`);
    h.rx.dispose();
  });

  it('puts swapped packets back in order with no concealment, and drops duplicates and late packets', () => {
    const ref = harness(payloads, 0, 0);
    for (let i = 0; i < 12; i++) ref.push(i);
    const h = harness(payloads, 0, 0);
    for (const i of [0, 1, 2, 3, 4, 6, 5, 7, 3, 8, 9, 10, 11]) h.push(i);
    assert.equal(h.frames.length, 12);
    assertContinuous(h.frames);
    assert.equal(h.rx.stats.packetsReordered, 1);
    assert.equal(h.rx.stats.packetsLate, 1, 'the duplicate of 3');
    assert.equal(h.rx.stats.framesConcealed, 0);
    h.frames.forEach((f, i) => assert.deepEqual(f.data, ref.frames[i].data, `frame ${i} decodes as in order`));
    // A packet that arrives after its gap was concealed is too late to use.
    const late = harness(payloads, 0, 0);
    for (const i of [0, 1, 3, 4, 5, 6, 7, 2]) late.push(i);
    assert.equal(late.frames.length, 8);
    assert.equal(late.rx.stats.packetsLate, 1);
    assert.equal(late.rx.stats.framesConcealed, 1);
    for (const x of [ref, h, late]) x.rx.dispose();
  });

  it('does not hold packets behind a gap for longer than the window when the sender stops', async () => {
    const h = harness(payloads, 0, 0);
    for (const i of [0, 1, 2, 4, 5]) h.push(i);
    assert.equal(h.frames.length, 3, 'waiting for packet 3');
    // The window's timer gives packet 3 up; on a busy machine timers fire late, so wait for it rather than 150 ms.
    await until('packet 3 given up after the window', 10_000, () => h.frames.length >= 6);
    assert.equal(h.frames.length, 6);
    assertContinuous(h.frames);
    assert.equal(h.rx.stats.framesConcealed, 1);
    h.rx.dispose();
  });

  it('fills a timestamp jump without a sequence gap (DTX) with concealment, and leaves a longer one as a pts jump', () => {
    const h = harness(payloads, 0, 0);
    for (let i = 0; i < 3; i++) h.push(i);
    h.push(3, { timestamp: 960 * 13 }); // 200 ms of silence suppressed by the sender
    assert.equal(h.frames.length, 14);
    assertContinuous(h.frames);
    assert.equal(h.rx.stats.framesConcealed, 10);
    assert.equal(h.rx.stats.packetsLost, 0);
    h.push(4, { timestamp: 960 * 14 + 48000 * 2 }); // 2 s: longer than maxConcealMs
    assert.equal(h.frames.length, 15);
    assert.equal(h.frames[14].pts, (14 * 960 + 96000) * (1e6 / 48000));
    assert.equal(h.rx.stats.gapsNotConcealed, 1);
    h.rx.dispose();
  });

  it('continues the timeline when the sender restarts with a new SSRC', () => {
    const h = harness(payloads, 0, 0);
    for (let i = 0; i < 5; i++) h.push(i);
    for (let i = 5; i < 10; i++) h.push(i, { ssrc: 999, sequenceNumber: 40000 + i, timestamp: 123456789 + 960 * i });
    assert.equal(h.frames.length, 10);
    assertContinuous(h.frames);
    h.rx.dispose();
  });

  it('resyncs when the sender renumbers on the same SSRC, and trims timestamps that step back', () => {
    const h = harness(payloads, 30000, 0);
    for (let i = 0; i < 5; i++) h.push(i);
    for (let i = 5; i < 8; i++) h.push(i, { sequenceNumber: 100 + i, timestamp: 777 + 960 * i });
    assert.equal(h.frames.length, 8, 'not dropped as late packets');
    assert.equal(h.rx.stats.resyncs, 1);
    assertContinuous(h.frames);
    // 10 ms of overlap with what was already emitted: only the new half is emitted.
    h.push(8, { sequenceNumber: 108, timestamp: 777 + 960 * 8 - 480 });
    assert.equal(h.frames.length, 9);
    assert.equal(h.frames[8].data.length, 480);
    assertContinuous(h.frames);
    h.rx.dispose();
  });

  it('decodes stereo to 2-channel frames', () => {
    const stereo = tonePackets(5, 440, 2);
    const h = harness(stereo, 0, 0, 2);
    for (let i = 0; i < 5; i++) h.push(i);
    assert.ok(h.frames.every((f) => f.channels === 2 && f.data.length === 1920));
    h.rx.dispose();
    h.push(0); // ignored after dispose
    assert.equal(h.frames.length, 5);
  });
});
