import assert from 'node:assert/strict';
import { until } from '../wait.js';
import type { IvfFrame } from '../../media/ffmpeg/ivf.js';
import { RtpVideoReceiver, type EncodedVideoFrame, type RtpVideoPacket } from '../../media/webrtc/rtp-video-receiver.js';
import { isVp8Keyframe, isVp8Shown, packetizeVp8, parseVp8Descriptor, vp8KeyframeSize } from '../../media/webrtc/vp8-rtp.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { rng } from '../helpers-random.js';
import { testsrcIvf } from './video-fixtures.js';

interface Pkt extends RtpVideoPacket {
  /** Index of the frame it belongs to. */
  readonly frame: number;
}

/** Frames as RTP packets: seq from seq0, timestamp ts0 + 3000 per frame, marker on each frame's last. */
function packetize(frames: readonly Uint8Array[], seq0: number, ts0: number, maxPayload = 1200): Pkt[] {
  const out: Pkt[] = [];
  let seq = seq0;
  frames.forEach((f, i) => {
    const payloads = packetizeVp8(f, i, maxPayload);
    payloads.forEach((payload, k) =>
      out.push({ ssrc: 42, sequenceNumber: seq++ & 0xffff, timestamp: (ts0 + 3000 * i) % 2 ** 32, marker: k === payloads.length - 1, payload, frame: i }),
    );
  });
  return out;
}

function receiver(opts: { windowMs?: number } = {}) {
  const frames: EncodedVideoFrame[] = [];
  let requests = 0;
  const rx = new RtpVideoReceiver({
    onFrame: (f) => frames.push(f),
    onKeyframeNeeded: () => requests++,
    ...(opts.windowMs !== undefined ? { reorderWindowMs: opts.windowMs } : {}),
  });
  return { rx, frames, requests: () => requests };
}

describe('media/webrtc VP8 RTP: packetizer, descriptor, frame assembly', () => {
  let dir: string;
  let vp8: IvfFrame[];
  before(function () {
    this.timeout(20000);
    dir = makeTempDir('cw-vp8-');
    // 30 frames, key frames at 0, 10 and 20.
    vp8 = testsrcIvf(dir, { width: 320, height: 240, frames: 30, fps: 30, gop: 10 }).frames;
  });
  after(() => removeDir(dir));

  it('packetizes any frame size into <= 1200-byte payloads that parse back to the frame', () => {
    const rand = rng(7);
    for (const size of [1, 1195, 1196, 1197, 2392, 2393, 5000, 100_000]) {
      const frame = new Uint8Array(size).map(() => Math.floor(rand() * 256));
      const payloads = packetizeVp8(frame, 0x1234 + size);
      assert.equal(payloads.length, Math.ceil(size / 1196), `packets for ${size} bytes`);
      const lengths = payloads.map((p) => p.length);
      assert.ok(Math.max(...lengths) <= 1200 && Math.max(...lengths) - Math.min(...lengths) <= 1, `even split: ${lengths.join(',')}`);
      const parts: number[] = [];
      payloads.forEach((p, i) => {
        const d = parseVp8Descriptor(p)!;
        assert.equal(d.start, i === 0);
        assert.equal(d.partitionId, 0);
        assert.equal(d.pictureId, (0x1234 + size) & 0x7fff);
        assert.equal(d.size, 4);
        parts.push(...p.subarray(d.size));
      });
      assert.deepEqual(new Uint8Array(parts), frame);
    }
    assert.deepEqual(packetizeVp8(new Uint8Array(0), 0), []);
  });

  it('parses every optional descriptor field (RFC 7741) and rejects truncated descriptors', () => {
    // X, N, S, PID 0 | I, L, T, K | 7-bit PictureID | TL0PICIDX | TID/Y/KEYIDX | payload
    const full = Uint8Array.from([0xb0, 0xf0, 0x05, 0x11, 0x22, 0xaa, 0xbb]);
    assert.deepEqual(parseVp8Descriptor(full), { start: true, partitionId: 0, nonReference: true, pictureId: 5, size: 5 });
    assert.deepEqual(parseVp8Descriptor(Uint8Array.from([0x03, 0x99])), { start: false, partitionId: 3, nonReference: false, pictureId: undefined, size: 1 });
    assert.equal(parseVp8Descriptor(Uint8Array.from([0x90, 0x80, 0x81])), undefined, 'M=1 needs two PictureID bytes');
    assert.equal(parseVp8Descriptor(Uint8Array.from([0x90])), undefined);
    assert.equal(parseVp8Descriptor(Uint8Array.from([0x10])), undefined, 'no payload');
    assert.equal(parseVp8Descriptor(new Uint8Array(0)), undefined);
  });

  it('tells key frames (and their size) from inter frames in real libvpx output', () => {
    assert.deepEqual(vp8.map((f) => isVp8Keyframe(f.data)), vp8.map((_, i) => i % 10 === 0));
    assert.deepEqual(vp8KeyframeSize(vp8[0].data), { width: 320, height: 240 });
    assert.equal(vp8KeyframeSize(vp8[1].data), undefined);
    assert.ok(vp8.every((f) => isVp8Shown(f.data)));
  });

  it('assembles every frame, in order, from packets reordered within the window (across the 16/32-bit wraps)', () => {
    const frames = vp8.map((f) => f.data);
    const pkts = packetize(frames, 65530, 2 ** 32 - 3000 * 3);
    const rand = rng(3);
    // Local shuffles: each packet moves at most 3 places (the first stays first: it starts the stream).
    for (let i = 1; i + 3 < pkts.length; i += 2) {
      const j = i + Math.floor(rand() * 4);
      [pkts[i], pkts[j]] = [pkts[j], pkts[i]];
    }
    const { rx, frames: out, requests } = receiver();
    pkts.forEach((p, i) => rx.push(p, 1000 + i));
    rx.dispose();
    assert.equal(out.length, frames.length);
    out.forEach((f, i) => {
      assert.deepEqual(f.data, frames[i], `frame ${i}`);
      assert.equal(f.t, 3000 * i);
      assert.equal(f.keyframe, i % 10 === 0);
    });
    assert.equal(requests(), 0);
    assert.ok(rx.stats.packetsReordered > 0);
    assert.equal(rx.stats.packetsLost, 0);
    assert.equal(rx.stats.keyframesOut, 3);
  });

  it('drops a frame with a lost packet and every frame up to the next key frame, asking for one (rate-limited)', () => {
    const frames = vp8.map((f) => f.data);
    const pkts = packetize(frames, 100, 5000);
    const lost = pkts.findIndex((p) => p.frame === 12);
    const { rx, frames: out, requests } = receiver();
    pkts.forEach((p, i) => {
      // 20 ms per frame; the packet after the gap arrives, and the window passes with more packets.
      if (i !== lost) rx.push(p, p.frame * 20);
    });
    rx.flush();
    rx.dispose();
    const got = out.map((f) => f.t / 3000);
    assert.deepEqual(got, [...Array(12).keys(), ...Array.from({ length: 10 }, (_, k) => 20 + k)]);
    assert.equal(rx.stats.packetsLost, 1);
    assert.equal(rx.stats.framesIncomplete, 1);
    assert.equal(rx.stats.framesSkipped, 7);
    // Frames 12..19 span 140 ms: the first request at the loss, one more 500 ms later would be needed for a second.
    assert.equal(requests(), 1);
  });

  it('waits for a missing packet at most the window, then skips it', async () => {
    const frames = vp8.slice(0, 3).map((f) => f.data);
    const pkts = packetize(frames, 0, 0);
    const { rx, frames: out } = receiver({ windowMs: 30 });
    // Frame 1's only packet is missing: frame 2 waits behind the gap.
    for (const p of pkts) if (p.frame !== 1) rx.push(p, 0);
    const frame0 = out.length;
    // The window's timer gives frame 1 up; on a busy machine timers fire late, so wait for it rather than 80 ms.
    await until('frame 1 given up after the 30 ms window', 10_000, () => rx.stats.packetsLost > 0 && rx.stats.framesSkipped >= 1);
    assert.equal(frame0, 1, 'frame 0 at once, frame 2 held behind the gap');
    // Frame 2 is complete but references the lost frame 1: skipped.
    assert.equal(out.length, 1);
    assert.equal(rx.stats.packetsLost, pkts.filter((p) => p.frame === 1).length);
    assert.equal(rx.stats.framesSkipped, 1);
    rx.dispose();
  });

  it('needs a key frame to start, and again after a new SSRC; a frame without its marker packet is dropped', () => {
    const frames = vp8.map((f) => f.data);
    const pkts = packetize(frames, 0, 0);
    const { rx, frames: out, requests } = receiver();
    // Start at frame 5 (inter): skipped until key frame 10.
    for (const p of pkts.filter((x) => x.frame >= 5 && x.frame < 12)) rx.push(p, p.frame * 33);
    assert.deepEqual(out.map((f) => f.t / 3000), [5, 6]);
    assert.equal(rx.stats.framesSkipped, 5);
    assert.equal(requests(), 1);
    // A new SSRC continues one frame later on the timeline, from its key frame only.
    const next = packetize(frames.slice(10, 13), 500, 77).map((p) => ({ ...p, ssrc: 43 }));
    // Frame 1's last packet comes without the marker bit (a broken sender): frame 1 never completes.
    for (const p of next) rx.push(p.frame === 1 && p.marker ? { ...p, marker: false } : p, 1000);
    rx.flush();
    const ts = out.map((f) => f.t / 3000);
    assert.deepEqual(ts, [5, 6, 7], 'timeline continues after the SSRC change (frame 11 was t=6)');
    assert.equal(rx.stats.framesIncomplete, 1, 'frame 1 of the new stream had no marker packet');
    assert.equal(rx.stats.framesSkipped, 6, 'frames 5-9, and frame 2 of the new stream (it references frame 1)');
    rx.dispose();
  });
});
