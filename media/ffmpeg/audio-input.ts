import { endianness } from 'node:os';
import type { Observable } from 'rxjs';
import { invalidArgument } from '../../core/errors.js';
import { audioFrame, nowMs, samplePts, type AudioFrame } from '../../core/frames.js';
import { ffmpegInput, type FfmpegInputCommonOptions } from './input.js';

export interface FfmpegAudioInputOptions extends FfmpegInputCommonOptions {
  /** Output sample rate (Hz); ffmpeg resamples. */
  readonly sampleRate: number;
  /** Output channel count; ffmpeg up/down-mixes. */
  readonly channels: number;
  /** Frame duration in ms (default 20). Frames hold round(sampleRate * frameMs / 1000) samples; the last may be shorter. */
  readonly frameMs?: number;
  /**
   * Emit at 1x wall clock (for files standing in for a live source). Frame k is emitted once its
   * last sample is due, at t0 + samplesThroughK / sampleRate, t0 = first decoded byte: drift-free.
   * At most ~1 s of decoded frames is queued; beyond it ffmpeg is held back through the pipe.
   */
  readonly realtime?: boolean;
  /** pts of the first sample, µs (default 0). */
  readonly startPts?: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Decodes the first audio stream of anything ffmpeg opens (file, URL, device, lavfi graph) into
 * AudioFrames of interleaved float32 at the requested rate and channel count.
 *
 * - pts come from the sample count (`samplePts(startPts, index, sampleRate)`); they start at
 *   startPts at the first decoded sample, whatever the source's own timestamps.
 * - wallMs is nowMs() when the frame is emitted.
 * - One ffmpeg process per subscription; unsubscribing kills it.
 * - Errors are MediaErrors: 'ffmpeg-missing', 'input-not-found', 'input-empty', 'no-audio-stream',
 *   'corrupt-input' (also after the last frame of a truncated file), 'ffmpeg-failed'.
 * - Backpressure when not live: frames are emitted synchronously as ffmpeg produces them; a
 *   synchronous consumer holds ffmpeg back through the pipe, and the bounded queue of a model
 *   operator downstream pauses ffmpeg through the FlowControl the frames carry (see input.ts):
 *   nothing is dropped and nothing to wire. With `realtime` memory is bounded (about 1 s of
 *   frames queued, then the pipe holds ffmpeg back) and queues downstream drop the oldest.
 */
export function ffmpegAudioInput(source: string, options: FfmpegAudioInputOptions): Observable<AudioFrame> {
  const { sampleRate, channels } = options;
  const frameMs = options.frameMs ?? 20;
  const startPts = options.startPts ?? 0;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw invalidArgument(`ffmpegAudioInput(${source}): sampleRate must be a positive integer, got ${sampleRate}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) {
    throw invalidArgument(`ffmpegAudioInput(${source}): channels must be an integer in 1..64, got ${channels}`);
  }
  const frameSamples = Math.round((sampleRate * frameMs) / 1000);
  if (!Number.isFinite(frameMs) || frameSamples < 1) {
    throw invalidArgument(`ffmpegAudioInput(${source}): frameMs ${frameMs} gives no whole sample at ${sampleRate} Hz`);
  }
  if (!Number.isInteger(startPts)) {
    throw invalidArgument(`ffmpegAudioInput(${source}): startPts must be an integer number of µs, got ${startPts}`);
  }
  const bytesPerSampleFrame = channels * 4;

  return ffmpegInput<AudioFrame>({
    source,
    kind: 'audio',
    ...(options.inputOptions !== undefined ? { inputOptions: options.inputOptions } : {}),
    ...(options.realtime !== undefined ? { realtime: options.realtime } : {}),
    ...(options.ffmpegPath !== undefined ? { ffmpegPath: options.ffmpegPath } : {}),
    ...(options.flow !== undefined ? { flow: options.flow } : {}),
    ...(options.live !== undefined ? { live: options.live } : {}),
    ...(options.ffprobePath !== undefined ? { ffprobePath: options.ffprobePath } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    // About one second of frames, at least 8.
    maxQueuedFrames: Math.max(8, Math.ceil(1000 / frameMs)),
    plan: () => ({
      outputArgs: [
        '-map', '0:a:0',
        '-ac', String(channels),
        '-ar', String(sampleRate),
        '-c:a', 'pcm_f32le',
        '-f', 'f32le',
      ],
      frameBytes: frameSamples * bytesPerSampleFrame,
      partialUnitBytes: bytesPerSampleFrame,
      bytesPerSecond: sampleRate * bytesPerSampleFrame,
      makeFrame: (bytes, byteOffset) =>
        audioFrame(
          samplePts(startPts, byteOffset / bytesPerSampleFrame, sampleRate),
          sampleRate,
          channels,
          toFloat32(bytes),
          nowMs(),
        ),
    }),
  });
}

/** `bytes` is a fresh array with its own buffer at offset 0 (see FrameReader), so this is a view, not a copy. */
function toFloat32(bytes: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
