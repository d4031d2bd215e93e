/**
 * Plain RTP video: ffmpeg sends its test pattern as VP8 RTP (key frames every second), the RTP
 * video input decodes it to frames of the size asked for, the picture ffmpeg drew; frames sent
 * with the RTP video output are decoded by ffmpeg reading the output's SDP.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { interval, lastValueFrom, map, take, toArray } from 'rxjs';
import type { VideoFrame } from '../../core/frames.js';
import { rtpVideoInput, rtpVideoOutput, rtpVideoSdp } from '../../media/rtp/index.js';
import { freeUdpPort } from '../cluster/harness.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { until } from '../wait.js';

describe('media/rtp: plain RTP video (VP8)', function () {
  this.timeout(120_000);
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = makeTempDir('cw-rtp-video-');
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    removeDir(dir);
  });

  it("ffmpeg's test pattern as VP8 RTP in: decoded frames of the asked size, the pattern's colours, on the RTP timeline", async () => {
    const stats: Record<string, number> = {};
    const frames = await lastValueFrom(
      rtpVideoInput({
        port: 0,
        payloadType: 96,
        width: 160,
        height: 120,
        idleTimeoutMs: 1000,
        stats,
        onListening: (port) => {
          const c = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=s=320x240:r=15', '-t', '3', '-c:v', 'libvpx', '-g', '15', '-deadline', 'realtime', '-b:v', '500k', '-payload_type', '96', '-f', 'rtp', `rtp://127.0.0.1:${port}`], { stdio: 'ignore' });
          children.push(c);
        },
      }).pipe(toArray()),
    );
    console.log(`      ${frames.length} frames decoded from ${stats.datagrams} datagrams`);
    assert.ok(frames.length >= 30, `${frames.length} frames`);
    for (const f of frames) assert.deepEqual([f.width, f.height, f.data.length], [160, 120, 160 * 120 * 3]);
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.pts > frames[i - 1]!.pts, 'pts increase');
    // testsrc2 is colourful: the frame has red, green and blue regions, not a flat picture.
    const f = frames.at(-1)!;
    let maxR = 0, maxG = 0, maxB = 0;
    for (let i = 0; i < f.data.length; i += 3) {
      maxR = Math.max(maxR, f.data[i]! - Math.max(f.data[i + 1]!, f.data[i + 2]!));
      maxG = Math.max(maxG, f.data[i + 1]! - Math.max(f.data[i]!, f.data[i + 2]!));
      maxB = Math.max(maxB, f.data[i + 2]! - Math.max(f.data[i]!, f.data[i + 1]!));
    }
    assert.ok(maxR > 100 && maxG > 100 && maxB > 100, `colour contrast ${maxR}/${maxG}/${maxB}`);
  });

  it('frames out as VP8 RTP: ffmpeg reading the output SDP decodes them', async () => {
    const port = await freeUdpPort();
    const sdp = join(dir, 'video.sdp');
    writeFileSync(sdp, rtpVideoSdp({ port }));
    const got = join(dir, 'got.rgb');
    const receiver = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdp, '-t', '2', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', got], { stdio: 'ignore' });
    children.push(receiver);
    const done = new Promise<number | null>((r) => receiver.once('exit', (c) => r(c)));
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    await until('ffmpeg listening', 20_000, () => readFileSync('/proc/net/udp', 'utf8').includes(`:${hex} `));
    // 3 s of 160x120 frames at 15 fps: a bright square moving right on grey.
    const frame = (i: number): VideoFrame => {
      const data = new Uint8Array(160 * 120 * 3).fill(90);
      for (let y = 40; y < 80; y++) for (let x = 0; x < 40; x++) data.fill(250, ((y * 160 + ((x + 4 * i) % 160)) * 3), ((y * 160 + ((x + 4 * i) % 160)) * 3) + 3);
      return { kind: 'video', pts: Math.round((i * 1e6) / 15), wallMs: Date.now(), width: 160, height: 120, format: 'rgb24', data };
    };
    await lastValueFrom(interval(1000 / 15).pipe(take(45), map(frame), rtpVideoOutput({ port, fps: 15, keyframeIntervalSec: 1 })), { defaultValue: undefined });
    assert.equal(await done, 0);
    const bytes = readFileSync(got);
    const n = Math.floor(bytes.length / (160 * 120 * 3));
    console.log(`      ffmpeg decoded ${n} frames of 160x120`);
    assert.ok(n >= 15, `${n} frames`);
    let bright = 0;
    for (let i = 0; i < 160 * 120 * 3; i += 3) if (bytes[i]! > 200) bright++;
    assert.ok(bright > 800, `the bright square is there (${bright} bright pixels)`);
  });
});
