/**
 * VP8 both ways through the WHIP peer, against a werift client over 127.0.0.1, with real
 * ffmpeg on both ends: the client sends RTP made with our packetizer from an ffmpeg-encoded
 * testsrc, and decodes what the peer sends back with ffmpeg.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom, filter, lastValueFrom, timeout, toArray } from 'rxjs';
import type { VideoFrame } from '../../core/frames.js';
import { isCausewayError } from '../../core/errors.js';
import { createWhipPeer, type WhipPeer } from '../../media/webrtc/index.js';
import { RtpVideoReceiver, type EncodedVideoFrame } from '../../media/webrtc/rtp-video-receiver.js';
import { packetizeVp8 } from '../../media/webrtc/vp8-rtp.js';
import { ffmpegPidsOf } from '../../media/webrtc/peer.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { FakeClient, baseline, settleResources, waitFor } from './fake-client.js';
import { psnr, referenceDecode, testsrcIvf, testsrcRgb, writeIvf } from './video-fixtures.js';

const W = 320;
const H = 240;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('media/webrtc WhipPeer video (VP8 via ffmpeg, werift client)', function () {
  this.timeout(30000);
  let dir: string;
  const open: Array<{ client: FakeClient; peer: WhipPeer }> = [];
  before(() => {
    dir = makeTempDir('cw-whip-video-');
  });
  after(() => removeDir(dir));
  afterEach(async () => {
    for (const s of open.splice(0)) {
      await s.peer.close();
      await s.client.close();
    }
  });

  async function connect(videoDirection: 'sendonly' | 'sendrecv'): Promise<{ client: FakeClient; peer: WhipPeer }> {
    const client = await FakeClient.create({ video: true, videoDirection });
    const peer = await createWhipPeer(client.offer, { iceAdditionalHostAddresses: ['127.0.0.1'] });
    open.push({ client, peer });
    await client.accept(peer.answer);
    await firstValueFrom(peer.state$.pipe(filter((s) => s === 'connected'), timeout(5000)));
    return { client, peer };
  }

  it('decodes the client camera to 320x240 frames, pts from RTP time, through a reordered and a lost packet (PLI sent)', async () => {
    const before = await baseline();
    // 640x480 in, scaled to the configured 320x240; key frames at 0, 10 and 20.
    const src = testsrcIvf(dir, { width: 640, height: 480, frames: 30, fps: 30, gop: 10 });
    const reference = referenceDecode(src.path, W, H);
    const { client, peer } = await connect('sendonly');
    const frames: VideoFrame[] = [];
    peer.video$.subscribe((f) => frames.push(f));

    const seq0 = 65500; // wraps during the key frame
    const ts0 = 2 ** 32 - 3000 * 4; // wraps at frame 4
    interface P { seq: number; ts: number; marker: boolean; payload: Uint8Array; frame: number }
    const packets: P[] = [];
    src.frames.forEach((f, i) => {
      const payloads = packetizeVp8(f.data, i);
      payloads.forEach((payload, k) => packets.push({ seq: seq0 + packets.length, ts: ts0 + 3000 * i, marker: k === payloads.length - 1, payload, frame: i }));
    });
    const lostAt = packets.findIndex((p) => p.frame === 14);
    const order = [...packets.keys()].filter((i) => i !== lostAt);
    // Swap two packets of the first key frame (it has many).
    const a = order.indexOf(3);
    [order[a], order[a + 1]] = [order[a + 1], order[a]];
    const t0 = Date.now();
    for (const i of order) {
      const p = packets[i];
      await client.sendVideo(p.seq, p.ts, p.payload, p.marker);
      if (p.marker) await sleep(8);
    }
    // 0..13 arrive; 14 lost (incomplete), 15..19 skipped (they reference it), 20..29 from the next key frame.
    const expected = [...Array(14).keys(), ...Array.from({ length: 10 }, (_, k) => 20 + k)];
    await waitFor(() => frames.length >= expected.length, 10000, `${expected.length} decoded frames`);
    await sleep(100);
    assert.equal(frames.length, expected.length);
    const tookMs = Date.now() - t0;
    let worstIn = Infinity;
    for (const [k, f] of frames.entries()) {
      const i = expected[k];
      assert.equal(f.width, W);
      assert.equal(f.height, H);
      assert.equal(f.format, 'rgb24');
      assert.equal(f.data.length, W * H * 3);
      assert.equal(f.pts, Math.round((3000 * i * 1e6) / 90000), `pts of frame ${i}`);
      const db = psnr(f.data, reference[i]);
      worstIn = Math.min(worstIn, db);
      assert.ok(db >= 30, `frame ${i}: PSNR ${db.toFixed(1)} dB vs ffmpeg's decode`);
    }
    assert.ok(frames.every((f, k) => k === 0 || f.wallMs >= frames[k - 1].wallMs));
    const st = peer.stats();
    assert.equal(st.videoPacketsLost, 1);
    assert.ok(st.videoPacketsReordered >= 1);
    assert.equal(st.videoFramesIncomplete, 1);
    assert.equal(st.videoFramesSkipped, 5);
    assert.equal(st.videoFramesDecoded, expected.length);
    assert.ok(st.pliSent >= 1, `PLI sent: ${st.pliSent}`);
    await waitFor(() => client.pliReceived >= 1, 2000, 'the PLI at the client');
    console.log(`      ${expected.length} frames decoded (640x480 VP8 -> 320x240 rgb24) in ${tookMs} ms, worst PSNR ${worstIn.toFixed(1)} dB`);

    // ffmpeg is gone once the peer is closed.
    const pids = ffmpegPidsOf(peer);
    assert.equal(pids.length, 1, 'one decoder running');
    assert.ok(alive(pids[0]));
    const done = lastValueFrom(peer.video$.pipe(toArray()));
    await peer.close();
    await done;
    assert.ok(!alive(pids[0]), `ffmpeg ${pids[0]} still alive after close`);
    await client.close();
    open.length = 0;
    assert.equal(await settleResources(before, 2000), '');
  });

  it('sends frames to the client as VP8 it can decode (PSNR >= 25 dB), timestamps from pts; a client PLI forces a key frame', async () => {
    const before = await baseline();
    const { client, peer } = await connect('sendrecv');
    assert.match(peer.answer, /m=video[^]*a=sendrecv/);
    const N = 40;
    const src = testsrcRgb({ width: W, height: H, frames: N, fps: 30 });
    const send = (i: number) => peer.sendVideo({ kind: 'video', pts: Math.round((i * 1e6) / 30), wallMs: performance.timeOrigin + performance.now(), width: W, height: H, format: 'rgb24', data: src[i] });
    send(0);
    // Let ffmpeg start before pacing the rest (a start costs ~100 ms; the queue holds 3 frames).
    await waitFor(() => peer.stats().videoFramesEncoded >= 1, 5000, 'the first encoded frame');
    const pids = ffmpegPidsOf(peer);
    for (let i = 1; i < N; i++) {
      await sleep(20);
      send(i);
      if (i === 30) {
        await client.video!.receiver.sendRtcpPLI(client.receivedVideo[0].header.ssrc);
      }
    }
    // Every frame is either encoded and sent or dropped, and counted (the restart for the PLI drops a few).
    await waitFor(() => peer.stats().videoFramesSent + peer.stats().videoEncoderDrops === N, 5000, 'every frame accounted for');
    // ... and every packet sent has reached the client (loopback loses none; the wait is for a loaded machine).
    await waitFor(() => client.receivedVideo.length >= peer.stats().videoPacketsOut, 10_000, 'every video packet at the client');
    const st = peer.stats();
    assert.equal(st.videoFramesEncoded, st.videoFramesSent);

    // The client's side: depacketize with our receiver, decode with ffmpeg.
    const got: EncodedVideoFrame[] = [];
    const rx = new RtpVideoReceiver({ onFrame: (f) => got.push(f), onKeyframeNeeded: () => assert.fail('no loss on loopback') });
    for (const p of client.receivedVideo) rx.push({ ...p.header, payload: p.payload }, 0);
    rx.flush();
    rx.dispose();
    assert.equal(got.length, st.videoFramesSent, 'every frame sent arrived whole');
    assert.ok(got.length >= N / 2, `${got.length} of ${N} frames at the client`);
    assert.ok(got[0].keyframe);
    const keyframes = got.filter((f) => f.keyframe).length;
    assert.ok(keyframes >= 2, `the initial key frame and the forced one (${keyframes})`);
    const path = join(dir, 'received.ivf');
    writeIvf(path, got.map((f) => f.data), W, H);
    const decoded = referenceDecode(path, W, H);
    assert.equal(decoded.length, got.length);
    // RTP time (90 kHz) back to source frame index: the first frame sent is frame 0.
    let worst = Infinity;
    for (const [k, f] of got.entries()) {
      const i = Math.round(f.t / 3000);
      assert.ok(Math.abs(f.t - Math.round(((i * 1e6) / 30) * 0.09)) <= 1, `timestamp ${f.t} on the 30 fps grid`);
      const db = psnr(decoded[k], src[i]);
      worst = Math.min(worst, db);
      assert.ok(db >= 25, `frame ${i}: PSNR ${db.toFixed(1)} dB at the client`);
    }
    assert.ok(got.every((f, k) => k === 0 || f.t > got[k - 1].t), 'timestamps increase');
    assert.equal(st.pliReceived, 1);
    assert.equal(st.videoKeyframesForced, 1);
    console.log(
      `      320x240 rgb24 -> VP8 -> client: worst PSNR ${worst.toFixed(1)} dB, ` +
        `${st.videoBytesOut} bytes for ${st.videoFramesSent} frames, ${st.videoEncoderDrops} dropped`,
    );

    // Malformed frames are refused; ffmpeg is gone after close.
    assert.throws(
      () => peer.sendVideo({ kind: 'video', pts: 0, wallMs: 0, width: W, height: H, format: 'rgb24', data: new Uint8Array(10) }),
      (e: unknown) => isCausewayError(e) && e.code === 'invalid-frame',
    );
    assert.equal(pids.length, 1);
    await peer.close();
    assert.ok(!alive(pids[0]), 'encoder ffmpeg gone');
    await client.close();
    open.length = 0;
    assert.equal(await settleResources(before, 2000), '');
  });

  it('drops the oldest frames (counted) when frames come faster than the encoder takes them', async () => {
    const { peer } = await connect('sendrecv');
    const src = testsrcRgb({ width: W, height: H, frames: 1, fps: 30 });
    for (let i = 0; i < 50; i++) peer.sendVideo({ kind: 'video', pts: i * 33333, wallMs: 0, width: W, height: H, format: 'rgb24', data: src[0] });
    const st = peer.stats();
    assert.equal(st.videoFramesToEncoder, 50);
    // ffmpeg has not even started: 2 frames written to it, 3 queued, the rest dropped.
    assert.equal(st.videoEncoderDrops, 45);
  });
});
