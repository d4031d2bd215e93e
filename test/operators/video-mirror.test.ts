import assert from 'node:assert/strict';
import { CausewayError } from '../../core/errors.js';
import type { PixelFormat, VideoFrame } from '../../core/frames.js';
import { mirrorFrame, videoMirror } from '../../operators/video-mirror.js';
import { collect, from } from './frames-helpers.js';

function frame(format: PixelFormat, w: number, h: number, fill: (i: number) => number): VideoFrame {
  const bytes = format === 'yuv420p' ? w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2) : w * h * { rgb24: 3, rgba: 4, gray: 1 }[format];
  return { kind: 'video', pts: 33_333, wallMs: 1, width: w, height: h, format, data: Uint8Array.from({ length: bytes }, (_, i) => fill(i) & 255) };
}

/** Reference: pixel (x, y) of a plane moves to (w - 1 - x, y), every byte of the pixel with it. */
function mirroredPlane(src: Uint8Array, off: number, w: number, h: number, bpp: number, x: number, y: number, c: number): number {
  return src[off + (y * w + (w - 1 - x)) * bpp + c];
}

describe('operators/videoMirror', () => {
  for (const [format, bpp] of [['rgb24', 3], ['rgba', 4], ['gray', 1]] as const) {
    it(`mirrors ${format} frames pixel by pixel (odd width)`, () => {
      const f = frame(format, 7, 3, (i) => i * 37 + 11);
      const out = mirrorFrame(f);
      for (let y = 0; y < 3; y++)
        for (let x = 0; x < 7; x++)
          for (let c = 0; c < bpp; c++) assert.equal(out.data[(y * 7 + x) * bpp + c], mirroredPlane(f.data, 0, 7, 3, bpp, x, y, c));
      assert.deepEqual(mirrorFrame(out).data, f.data, 'mirroring twice is the identity');
    });
  }

  it('mirrors each yuv420p plane on its own, odd sizes included', () => {
    const w = 5;
    const h = 3;
    const cw = 3;
    const ch = 2;
    const f = frame('yuv420p', w, h, (i) => i * 13 + 5);
    const out = mirrorFrame(f);
    const planes = [
      [0, w, h],
      [w * h, cw, ch],
      [w * h + cw * ch, cw, ch],
    ];
    for (const [off, pw, ph] of planes)
      for (let y = 0; y < ph; y++)
        for (let x = 0; x < pw; x++) assert.equal(out.data[off + y * pw + x], mirroredPlane(f.data, off, pw, ph, 1, x, y, 0));
  });

  it('keeps pts and wallMs, and refuses a frame whose size does not match its format', async () => {
    const f = frame('rgb24', 4, 2, (i) => i);
    const [out] = await collect(from([f]).pipe(videoMirror()));
    assert.equal(out.pts, f.pts);
    assert.equal(out.wallMs, f.wallMs);
    const bad = { ...f, data: new Uint8Array(5) };
    assert.throws(() => mirrorFrame(bad), (e: unknown) => e instanceof CausewayError && e.code === 'invalid-frame');
  });
});
