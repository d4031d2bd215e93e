/**
 * `videoMirror`: flips each video frame left to right, as a selfie view does. Works on every
 * pixel format we carry (rgb24, rgba, gray, yuv420p: each plane flipped on its own), keeps pts
 * and wallMs, and allocates only the output frame.
 */
import { CausewayError } from '../core/errors.js';
import type { VideoFrame } from '../core/frames.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { syncMap } from '../core/sync-operator.js';

/** Copies `rows` rows of `width` pixels of `bpp` bytes from src to dst (both at `off`), mirrored. */
function flipPlane(src: Uint8Array, dst: Uint8Array, off: number, width: number, rows: number, bpp: number): void {
  const stride = width * bpp;
  for (let y = 0; y < rows; y++) {
    const row = off + y * stride;
    for (let x = 0; x < width; x++) {
      const s = row + x * bpp;
      const d = row + (width - 1 - x) * bpp;
      for (let c = 0; c < bpp; c++) dst[d + c] = src[s + c];
    }
  }
}

const BYTES_PER_PIXEL = { rgb24: 3, rgba: 4, gray: 1 } as const;

export function mirrorFrame(frame: VideoFrame): VideoFrame {
  const { width: w, height: h, format } = frame;
  const expected = format === 'yuv420p' ? w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2) : w * h * (BYTES_PER_PIXEL[format] ?? NaN);
  if (frame.data?.length !== expected) {
    throw new CausewayError('invalid-frame', `videoMirror: ${frame.data?.length} bytes for a ${w}x${h} ${String(format)} frame, expected ${expected}`);
  }
  const out = new Uint8Array(frame.data.length);
  switch (format) {
    case 'rgb24':
      flipPlane(frame.data, out, 0, w, h, 3);
      break;
    case 'rgba':
      flipPlane(frame.data, out, 0, w, h, 4);
      break;
    case 'gray':
      flipPlane(frame.data, out, 0, w, h, 1);
      break;
    case 'yuv420p': {
      const cw = Math.ceil(w / 2);
      const ch = Math.ceil(h / 2);
      flipPlane(frame.data, out, 0, w, h, 1);
      flipPlane(frame.data, out, w * h, cw, ch, 1);
      flipPlane(frame.data, out, w * h + cw * ch, cw, ch, 1);
      break;
    }
    default:
      throw new CausewayError('invalid-frame', `videoMirror: unknown pixel format ${String(format)}`);
  }
  return { ...frame, data: out };
}

export function videoMirror(): StreamOperator<VideoFrame, VideoFrame> {
  const op = syncMap<VideoFrame, VideoFrame>('videoMirror', () => ({
    step(frame, emit) {
      emit(mirrorFrame(frame));
    },
  }));
  return withInfo(op, { name: 'videoMirror', latencyUs: 0, lookaheadUs: 0 });
}
