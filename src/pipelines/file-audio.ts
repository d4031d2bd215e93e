/**
 * What every file pipeline starts with: any input ffmpeg reads -> mono at its native rate ->
 * our resampler to 16 kHz -> a model operator. Files are decoded as fast as the model keeps up
 * (the operator's queue pauses ffmpeg through the FlowControl the frames carry; nothing dropped);
 * `realtime` paces the input at 1x like a live source, and the queue drops the oldest instead.
 */
import { defer, switchMap, type Observable, type OperatorFunction } from 'rxjs';
import { ffmpegAudioInput, probeMedia, type MediaInfo } from '../../media/ffmpeg/index.js';
import { resample } from '../../operators/resample.js';
import { MediaError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import type { QueueOptions } from '../../core/serial-queue.js';

export interface FileAudioOptions {
  realtime?: boolean;
  /** The input's probe, when the caller already has it (saves a second ffprobe run). */
  info?: MediaInfo;
  /** How long a network input may stay silent, ms (see FfmpegInputCommonOptions.timeoutMs). */
  timeoutMs?: number;
}

export function fileAudio16k<T>(
  input: string,
  options: FileAudioOptions,
  model: (queue: Omit<QueueOptions, 'name'>) => OperatorFunction<AudioFrame, T>,
): Observable<T> {
  return defer(async () => {
    const info = options.info ?? (await probeMedia(input, { timeoutMs: options.timeoutMs }));
    if (!info.audio) throw new MediaError('no-audio-stream', `${input}: no audio stream`);
    return info.audio.sampleRate;
  }).pipe(
    switchMap((rate) => {
      const live = options.realtime === true;
      return ffmpegAudioInput(input, { sampleRate: rate, channels: 1, realtime: live, timeoutMs: options.timeoutMs }).pipe(
        resample({ toRate: 16000, fromRate: rate }),
        model({ capacity: live ? 64 : 32 }),
      );
    }),
  );
}
