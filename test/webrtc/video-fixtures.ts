/**
 * Video for the VP8 tests, made at test time with ffmpeg: a VP8 IVF of lavfi's testsrc2, raw
 * test frames, ffmpeg's own decode of an IVF as the reference, and PSNR to compare.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ivfFileHeader, ivfFrameHeader, parseIvf, type IvfFrame } from '../../media/ffmpeg/ivf.js';
import { ffmpegSync } from '../fixtures-media.js';

/** testsrc2 (moving pattern) encoded to VP8 IVF, a key frame every `gop` frames. */
export function testsrcIvf(dir: string, o: { width: number; height: number; frames: number; fps: number; gop: number }): { path: string; frames: IvfFrame[] } {
  const path = join(dir, `testsrc-${o.width}x${o.height}-${o.frames}.ivf`);
  ffmpegSync([
    '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`,
    '-frames:v', String(o.frames),
    '-c:v', 'libvpx', '-deadline', '1', '-cpu-used', '8', '-lag-in-frames', '0', '-b:v', '1500k',
    '-g', String(o.gop), '-keyint_min', String(o.gop), '-auto-alt-ref', '0',
    '-f', 'ivf', path,
  ]);
  return { path, frames: parseIvf(readFileSync(path)).frames };
}

/** Raw rgb24 frames of testsrc2 at the given size. */
export function testsrcRgb(o: { width: number; height: number; frames: number; fps: number }): Uint8Array[] {
  const raw = ffmpegSync(['-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`, '-frames:v', String(o.frames), '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1']);
  return split(raw, o.width * o.height * 3);
}

/** ffmpeg's decode of an IVF file, scaled like the peer's decoder does (then `filter`, e.g. hflip), one buffer per frame. */
export function referenceDecode(path: string, width: number, height: number, filter?: string): Uint8Array[] {
  const raw = ffmpegSync(['-i', path, '-vf', `scale=${width}:${height}${filter !== undefined ? `,${filter}` : ''}`, '-pix_fmt', 'rgb24', '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1']);
  return split(raw, width * height * 3);
}

/** Writes VP8 frames (in order, pts = index) as an IVF file. */
export function writeIvf(path: string, frames: readonly Uint8Array[], width: number, height: number): void {
  const parts: Buffer[] = [ivfFileHeader(width, height, 30)];
  frames.forEach((f, i) => parts.push(ivfFrameHeader(f.length, i), Buffer.from(f)));
  writeFileSync(path, Buffer.concat(parts));
}

function split(raw: Buffer, frameBytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off + frameBytes <= raw.length; off += frameBytes) out.push(new Uint8Array(raw.subarray(off, off + frameBytes)));
  return out;
}

/** Peak signal-to-noise ratio of two 8-bit images, dB (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} bytes`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
