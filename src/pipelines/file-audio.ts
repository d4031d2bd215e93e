/**
 * What every file pipeline starts with: any input ffmpeg reads -> mono at its native rate ->
 * our resampler to 16 kHz -> a model operator. Files are decoded as fast as the model keeps up
 * (the operator's queue pauses ffmpeg through the FlowControl the frames carry; nothing dropped);
 * `realtime` paces the input at 1x like a live source, and the queue drops the oldest instead.
 */
import { defer, switchMap, type Observable, type OperatorFunction } from 'rxjs';
import { ffmpegAudioInput, probeMedia, type MediaInfo } from '../../media/ffmpeg/index.js';
import { isRtpSource, rtpSourceAudio, rtpSourceInfo } from '../../media/rtp/index.js';
import { resample } from '../../operators/resample.js';
import { MediaError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import type { QueueOptions } from '../../core/serial-queue.js';

export interface FileAudioOptions {
  realtime?: boolean;
  /** The input's probe, when the caller already has it (saves a second ffprobe run). */
  info?: MediaInfo;
  /** How long a network input may stay silent, ms (see FfmpegInputCommonOptions.timeoutMs); a plain RTP input ends after this long without a packet (default 2 s). */
  timeoutMs?: number;
}

/** The input's probe: ffprobe's, or for a plain RTP stream (`.sdp`, `rtp://`) what its SDP says. */
export async function probeInput(input: string, timeoutMs?: number): Promise<MediaInfo> {
  return isRtpSource(input) ? rtpSourceInfo(input) : probeMedia(input, { timeoutMs });
}

/** The input's audio, mono at `rate`: through ffmpeg, or a plain RTP stream's own receiver (48 kHz). */
export function audioInput(input: string, rate: number, options: { realtime?: boolean; timeoutMs?: number; frameMs?: number }): Observable<AudioFrame> {
  if (isRtpSource(input)) return rtpSourceAudio(input, options.timeoutMs || 2000);
  return ffmpegAudioInput(input, { sampleRate: rate, channels: 1, realtime: options.realtime === true, timeoutMs: options.timeoutMs, ...(options.frameMs !== undefined ? { frameMs: options.frameMs } : {}) });
}

export function fileAudio16k<T>(
  input: string,
  options: FileAudioOptions,
  model: (queue: Omit<QueueOptions, 'name'>) => OperatorFunction<AudioFrame, T>,
): Observable<T> {
  return defer(async () => {
    const info = options.info ?? (await probeInput(input, options.timeoutMs));
    if (!info.audio) throw new MediaError('no-audio-stream', `${input}: no audio stream`);
    return info.audio.sampleRate;
  }).pipe(
    switchMap((rate) => {
      // A plain RTP stream is live: its queue drops the oldest if the model falls behind, and
      // holds 10 s so that the model's first load (a second or so, packets waiting in the
      // socket meanwhile) costs nothing.
      const rtp = isRtpSource(input);
      const live = options.realtime === true || rtp;
      return audioInput(input, rate, options).pipe(
        resample({ toRate: 16000, fromRate: rate }),
        model({ capacity: rtp ? 500 : live ? 64 : 32 }),
      );
    }),
  );
}
