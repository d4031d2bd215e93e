/**
 * Plain RTP sessions with video (`POST /rtp`, an offer with a VP8 section): ffmpeg sends Opus and
 * a VP8 picture (a white square on the left) to the answered ports, the default pipeline mirrors
 * the camera as it does for WHIP, and the mirrored video comes back as VP8 RTP to the offer's
 * video port, where ffmpeg decodes it: the square is on the right. Another video codec is a 400.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlainSdp, rtpVideoSdp } from '../../media/rtp/index.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { freeUdpPort } from '../cluster/harness.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { until } from '../wait.js';

const offer = (videoPort: number, video = 'VP8/90000') =>
  ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=media server', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 0 RTP/AVP 111', 'a=rtpmap:111 opus/48000/2', `m=video ${videoPort} RTP/AVP 96`, `a=rtpmap:96 ${video}`, ''].join('\r\n');

describe('server: plain RTP sessions with video (POST /rtp)', function () {
  this.timeout(120_000);
  let server: CausewayServer | undefined;
  const children: ChildProcess[] = [];
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('cw-rtp-video-session-');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await server?.close();
    server = undefined;
    removeDir(dir);
  });

  it('ffmpeg sends Opus and VP8; the default pipeline mirrors the camera and the video comes back as VP8 RTP to the offer\'s port', async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }) });
    // The media server's side that takes the video back: ffmpeg reading the SDP of what it will get.
    const backPort = await freeUdpPort();
    writeFileSync(join(dir, 'back.sdp'), rtpVideoSdp({ port: backPort }));
    const got = join(dir, 'back.rgb');
    const receiver = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', join(dir, 'back.sdp'), '-frames:v', '20', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', got], { stdio: 'ignore' });
    children.push(receiver);
    const hex = backPort.toString(16).toUpperCase().padStart(4, '0');
    await until('ffmpeg listening for the returned video', 20_000, () => readFileSync('/proc/net/udp', 'utf8').includes(`:${hex} `));

    const r = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer(backPort) });
    const answerText = await r.text();
    assert.equal(r.status, 201, answerText);
    const answer = parsePlainSdp(answerText);
    const [audio, video] = [answer.find((m) => m.kind === 'audio')!, answer.find((m) => m.kind === 'video')!];
    assert.equal(video.formats.get(96)?.codec, 'vp8');
    assert.equal(video.rtcpPort, video.port + 1);
    const id = r.headers.get('location')!.split('/').pop()!;
    const session = server.sessions.get(id)!;
    assert.equal(session.peer.hasVideo, true);

    children.push(
      spawn('ffmpeg', [
        ...['-hide_banner', '-loglevel', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'sine=f=300:d=8'],
        ...['-f', 'lavfi', '-i', 'color=c=gray:s=320x240:r=15:d=8,drawbox=x=20:y=80:w=60:h=60:color=white:t=fill'],
        ...['-map', '0:a', '-c:a', 'libopus', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${audio.port}`],
        ...['-map', '1:v', '-c:v', 'libvpx', '-g', '15', '-deadline', 'realtime', '-lag-in-frames', '0', '-b:v', '400k', '-payload_type', '96', '-f', 'rtp', `rtp://127.0.0.1:${video.port}`],
      ], { stdio: 'ignore' }),
    );
    await until('20 frames of returned video decoded by ffmpeg', 30_000, () => receiver.exitCode !== null, () => JSON.stringify(session.peer.stats()));
    assert.equal(receiver.exitCode, 0);
    const stats = session.peer.stats();
    const bytes = readFileSync(got);
    const frames = bytes.length / (320 * 240 * 3);
    // Where the white square is in the last frame: mirrored, x 240..300 instead of 20..80.
    const last = bytes.subarray(bytes.length - 320 * 240 * 3);
    let n = 0;
    let sumX = 0;
    for (let i = 0; i < 320 * 240; i++) {
      if (last[3 * i]! > 200 && last[3 * i + 1]! > 200 && last[3 * i + 2]! > 200) {
        n++;
        sumX += i % 320;
      }
    }
    console.log(`      ${frames} frames of 320x240 back; the square: ${n} white pixels around x = ${(sumX / n).toFixed(1)}; peer ${JSON.stringify({ videoFramesDecoded: stats.videoFramesDecoded, videoFramesEncoded: stats.videoFramesEncoded, videoSenderReports: stats.videoSenderReports, senderReports: stats.senderReports, packetsOut: stats.packetsOut })}`);
    assert.equal(frames, 20);
    assert.ok(n > 2500, `${n} white pixels (the square is 3600)`);
    assert.ok(Math.abs(sumX / n - 270) < 10, `the square at x = ${sumX / n}, mirrored from 50`);
    assert.ok((stats.videoSenderReports ?? 0) >= 1, "ffmpeg's video SRs reached the answer's a=rtcp port");
    const del = await fetch(`${server.url}/rtp/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    await until('the session gone', 5000, () => server!.sessions.size === 0);
  });

  it('a video section in another codec is a 400 that says which', async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }) });
    const h264 = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer(5006, 'H264/90000') });
    assert.equal(h264.status, 400);
    assert.equal((await h264.text()).trimEnd(), 'bad plain RTP offer: its video is not VP8 (96 h264); plain RTP takes VP8 video');
    assert.equal(server.sessions.size, 0);
  });
});
