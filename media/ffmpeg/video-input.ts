import type { Observable } from 'rxjs';
import { invalidArgument, MediaError } from '../../core/errors.js';
import { nowMs, type PixelFormat, type VideoFrame } from '../../core/frames.js';
import { describeSource, noStream } from './errors.js';
import { ffmpegInput, type FfmpegInputCommonOptions } from './input.js';

export interface FfmpegVideoInputOptions extends FfmpegInputCommonOptions {
  /** Output size; ffmpeg scales (aspect ratio is not preserved: pad/crop with inputOptions filters if needed). */
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  /**
   * Output frame rate. ffmpeg's `fps` filter makes the output constant-rate (duplicating or
   * dropping frames), so frame k has pts = startPts + round(k * 1e6 / fps) exactly. When omitted,
   * the source's frame rate is read with ffprobe first (opens the source twice: pass fps for
   * live sources and devices).
   */
  readonly fps?: number;
  /** Emit at 1x wall clock: frame k when due at t0 + (k + 1) / fps. */
  readonly realtime?: boolean;
  /** pts of the first frame, µs (default 0). */
  readonly startPts?: number;
}

/** Bytes of one raw frame as ffmpeg's rawvideo writes it (planes packed, no padding). */
export function videoFrameBytes(width: number, height: number, format: PixelFormat): number {
  switch (format) {
    case 'rgb24':
      return width * height * 3;
    case 'rgba':
      return width * height * 4;
    case 'gray':
      return width * height;
    case 'yuv420p':
      return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
  }
}

const PIXEL_FORMATS: readonly PixelFormat[] = ['rgb24', 'rgba', 'gray', 'yuv420p'];

/**
 * Decodes the first video stream of anything ffmpeg opens into raw VideoFrames of exactly
 * `videoFrameBytes(width, height, pixelFormat)` bytes.
 *
 * Timing: pts come from the frame index and the (constant) output rate, starting at startPts at
 * the first decoded frame. We do not read ffmpeg's own per-frame timestamps: the rawvideo pipe
 * carries none, and recovering them from a side channel (showinfo on stderr) cannot be matched to
 * stdout frames reliably. A constant output rate makes index-based pts exact instead.
 * Same life cycle, errors and backpressure as ffmpegAudioInput ('no-video-stream' when the input
 * has no video).
 */
export function ffmpegVideoInput(source: string, options: FfmpegVideoInputOptions): Observable<VideoFrame> {
  const { width, height, pixelFormat } = options;
  const startPts = options.startPts ?? 0;
  const name = `ffmpegVideoInput(${describeSource(source)})`;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw invalidArgument(`${name}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!PIXEL_FORMATS.includes(pixelFormat)) {
    throw invalidArgument(`${name}: pixelFormat must be one of ${PIXEL_FORMATS.join(', ')}, got ${String(pixelFormat)}`);
  }
  if (options.fps !== undefined && !(Number.isFinite(options.fps) && options.fps > 0)) {
    throw invalidArgument(`${name}: fps must be a positive number, got ${options.fps}`);
  }
  if (!Number.isInteger(startPts)) {
    throw invalidArgument(`${name}: startPts must be an integer number of µs, got ${startPts}`);
  }
  const frameBytes = videoFrameBytes(width, height, pixelFormat);

  return ffmpegInput<VideoFrame>({
    source,
    kind: 'video',
    ...(options.inputOptions !== undefined ? { inputOptions: options.inputOptions } : {}),
    ...(options.realtime !== undefined ? { realtime: options.realtime } : {}),
    ...(options.ffmpegPath !== undefined ? { ffmpegPath: options.ffmpegPath } : {}),
    ...(options.flow !== undefined ? { flow: options.flow } : {}),
    ...(options.live !== undefined ? { live: options.live } : {}),
    ...(options.ffprobePath !== undefined ? { ffprobePath: options.ffprobePath } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    maxQueuedFrames: 8,
    plan: async (probe) => {
      let rate: { num: number; den: number };
      if (options.fps !== undefined) {
        rate = { num: options.fps, den: 1 };
      } else {
        const info = await probe();
        if (info.video === undefined) throw noStream(source, 'video');
        if (info.video.fps === undefined) {
          throw new MediaError(
            'invalid-argument',
            `${name}: ffprobe reports no frame rate for this input; pass options.fps`,
          );
        }
        rate = info.video.fps;
      }
      const rateArg = rate.den === 1 ? String(rate.num) : `${rate.num}/${rate.den}`;
      return {
        outputArgs: [
          '-map', '0:v:0',
          '-vf', `fps=${rateArg},scale=${width}:${height},format=${pixelFormat}`,
          '-pix_fmt', pixelFormat,
          '-c:v', 'rawvideo',
          '-f', 'rawvideo',
        ],
        frameBytes,
        partialUnitBytes: 0,
        bytesPerSecond: (frameBytes * rate.num) / rate.den,
        makeFrame: (bytes, byteOffset) => {
          const index = byteOffset / frameBytes;
          return {
            kind: 'video',
            pts: startPts + Math.round((index * 1e6 * rate.den) / rate.num),
            wallMs: nowMs(),
            width,
            height,
            format: pixelFormat,
            data: bytes,
          };
        },
      };
    },
  });
}
