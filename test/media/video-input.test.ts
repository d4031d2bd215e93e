import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ffmpegVideoInput, videoFrameBytes } from '../../media/ffmpeg/index.js';
import { collect, ffmpegChildren, ffmpegSync, makeTempDir, removeDir, waitFor } from '../fixtures-media.js';

const LAVFI = ['-f', 'lavfi'];

describe('media/ffmpeg ffmpegVideoInput', function () {
  this.timeout(20000);
  let dir: string;
  let mp4: string;

  before(() => {
    dir = makeTempDir();
    mp4 = join(dir, 'testsrc.mp4');
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-c:v', 'mpeg4', '-q:v', '2', mp4]);
  });
  after(() => removeDir(dir));

  it('lavfi testsrc -> rgb24 frames of width*height*3 bytes, pts from index and fps, pixels as ffmpeg decodes them', async () => {
    const src = 'testsrc=size=64x48:rate=10:duration=1';
    const { frames, error } = await collect(
      ffmpegVideoInput(src, { width: 64, height: 48, pixelFormat: 'rgb24', fps: 10, inputOptions: LAVFI }),
    );
    assert.equal(error, undefined);
    assert.equal(frames.length, 10);
    frames.forEach((f, k) => {
      assert.equal(f.kind, 'video');
      assert.equal(f.width, 64);
      assert.equal(f.height, 48);
      assert.equal(f.format, 'rgb24');
      assert.equal(f.data.length, 64 * 48 * 3);
      assert.equal(f.pts, k * 100_000);
    });
    const ref = ffmpegSync(['-f', 'lavfi', '-i', src, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
    assert.equal(ref.length, 10 * 64 * 48 * 3);
    frames.forEach((f, k) => assert.ok(Buffer.from(f.data).equals(ref.subarray(k * 9216, (k + 1) * 9216)), `frame ${k} pixels`));
    // testsrc moves: consecutive frames differ.
    assert.ok(!Buffer.from(frames[0]!.data).equals(Buffer.from(frames[1]!.data)));
  });

  it('sizes gray, rgba and yuv420p (odd size) frames exactly', async () => {
    for (const [pixelFormat, w, h, bytes] of [
      ['gray', 64, 48, 64 * 48],
      ['rgba', 32, 24, 32 * 24 * 4],
      ['yuv420p', 33, 17, 33 * 17 + 2 * 17 * 9],
    ] as const) {
      assert.equal(videoFrameBytes(w, h, pixelFormat), bytes);
      const { frames, error } = await collect(
        ffmpegVideoInput('testsrc=rate=10:duration=0.3', { width: w, height: h, pixelFormat, fps: 10, inputOptions: LAVFI }),
      );
      assert.equal(error, undefined);
      assert.equal(frames.length, 3, pixelFormat);
      assert.ok(frames.every((f) => f.data.length === bytes && f.format === pixelFormat), pixelFormat);
    }
  });

  it('converts to the requested fps and offsets pts by startPts', async () => {
    const { frames, error } = await collect(
      ffmpegVideoInput(mp4, { width: 64, height: 48, pixelFormat: 'rgb24', fps: 5, startPts: 500_000 }),
    );
    assert.equal(error, undefined);
    assert.equal(frames.length, 5);
    assert.deepEqual(frames.map((f) => f.pts), [0, 1, 2, 3, 4].map((k) => 500_000 + k * 200_000));
  });

  it('without fps uses the source rate from ffprobe, also a rational one (30000/1001)', async () => {
    const file = await collect(ffmpegVideoInput(mp4, { width: 64, height: 48, pixelFormat: 'gray' }));
    assert.equal(file.error, undefined);
    assert.deepEqual(file.frames.map((f) => f.pts), [...Array(10).keys()].map((k) => k * 100_000));
    const ntsc = await collect(
      ffmpegVideoInput('testsrc=rate=30000/1001:duration=0.2', { width: 16, height: 16, pixelFormat: 'gray', inputOptions: LAVFI }),
    );
    assert.equal(ntsc.error, undefined);
    assert.equal(ntsc.frames.length, 6);
    assert.deepEqual(ntsc.frames.map((f) => f.pts), [0, 1, 2, 3, 4, 5].map((k) => Math.round((k * 1e6 * 1001) / 30000)));
  });

  it('realtime: 10 frames at 20 fps take >= 0.45 s', async () => {
    const { frames, error, ms } = await collect(
      ffmpegVideoInput('testsrc=rate=20:duration=0.5', { width: 32, height: 24, pixelFormat: 'rgb24', fps: 20, realtime: true, inputOptions: LAVFI }),
    );
    assert.equal(error, undefined);
    assert.equal(frames.length, 10);
    assert.ok(ms >= 450, `took ${ms.toFixed(0)} ms`);
  });

  it('unsubscribing kills ffmpeg', async () => {
    await new Promise<void>((resolve, reject) => {
      const sub = ffmpegVideoInput('testsrc=rate=25', { width: 64, height: 48, pixelFormat: 'rgb24', fps: 25, inputOptions: LAVFI }).subscribe({
        next: () => {
          assert.equal(ffmpegChildren().length, 1);
          sub.unsubscribe();
          resolve();
        },
        error: reject,
      });
    });
    assert.ok(await waitFor(() => ffmpegChildren().length === 0));
  });

  it('rejects bad options synchronously', () => {
    assert.throws(() => ffmpegVideoInput('x', { width: 0, height: 10, pixelFormat: 'rgb24' }), { code: 'invalid-argument' });
    assert.throws(() => ffmpegVideoInput('x', { width: 10, height: 10, pixelFormat: 'bgr' as 'rgb24' }), { code: 'invalid-argument' });
    assert.throws(() => ffmpegVideoInput('x', { width: 10, height: 10, pixelFormat: 'rgb24', fps: -1 }), { code: 'invalid-argument' });
  });
});
