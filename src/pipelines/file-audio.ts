/**
 * What every file pipeline starts with: any input ffmpeg reads -> mono at its native rate ->
 * our resampler to 16 kHz -> a model operator. Files are decoded as fast as the model keeps up
 * (a FlowControl shared with the operator's 'pause' queue holds ffmpeg back; nothing dropped);
 * `realtime` paces the input at 1x like a live source, with a drop-oldest queue instead.
 */
import { defer, switchMap, type Observable, type OperatorFunction } from 'rxjs';
import { ffmpegAudioInput, probeMedia, type MediaInfo } from '../../media/ffmpeg/index.js';
import { resample } from '../../operators/resample.js';
import { MediaError } from '../core/errors.js';
import { FlowControl } from '../core/flow.js';
import type { AudioFrame } from '../core/frames.js';
import type { QueueOptions } from '../core/serial-queue.js';

export interface FileAudioOptions {
  realtime?: boolean;
  /** The input's probe, when the caller already has it (saves a second ffprobe run). */
  info?: MediaInfo;
}

export function fileAudio16k<T>(
  input: string,
  options: FileAudioOptions,
  model: (queue: Omit<QueueOptions, 'name'>) => OperatorFunction<AudioFrame, T>,
): Observable<T> {
  return defer(async () => {
    const info = options.info ?? (await probeMedia(input));
    if (!info.audio) throw new MediaError('no-audio-stream', `${input}: no audio stream`);
    return info.audio.sampleRate;
  }).pipe(
    switchMap((rate) => {
      const flow = new FlowControl();
      const live = options.realtime === true;
      return ffmpegAudioInput(input, { sampleRate: rate, channels: 1, realtime: live, flow }).pipe(
        resample({ toRate: 16000, fromRate: rate }),
        model(live ? { policy: 'drop-oldest', capacity: 64 } : { policy: 'pause', capacity: 32, flow }),
      );
    }),
  );
}
