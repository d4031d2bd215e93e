/**
 * The first ready-made pipeline: any media ffmpeg can read -> mono audio at its native rate ->
 * resample to 16 kHz (our polyphase kernel) -> Silero VAD -> speech segments.
 * Files are decoded as fast as the VAD keeps up (flow control pauses ffmpeg; nothing is dropped);
 * `realtime: true` paces the input at 1x like a live source.
 */
import { defer, switchMap, type Observable } from 'rxjs';
import { ffmpegAudioInput, probeMedia } from '../../media/ffmpeg/index.js';
import { resample } from '../../operators/resample.js';
import { vad, type VadOptions } from '../../operators/vad.js';
import { MediaError } from '../core/errors.js';
import { FlowControl } from '../core/flow.js';
import type { VadEvent } from '../core/frames.js';

export interface DetectSpeechOptions extends Omit<VadOptions, 'queue' | 'sampleRate'> {
  realtime?: boolean;
}

export function detectSpeech(input: string, options: DetectSpeechOptions = {}): Observable<VadEvent> {
  return defer(async () => {
    const info = await probeMedia(input);
    if (!info.audio) throw new MediaError('no-audio-stream', `${input}: no audio stream`);
    return info.audio.sampleRate;
  }).pipe(
    switchMap((nativeRate) => {
      const flow = new FlowControl();
      const live = options.realtime === true;
      return ffmpegAudioInput(input, { sampleRate: nativeRate, channels: 1, realtime: live, flow }).pipe(
        resample({ toRate: 16000, fromRate: nativeRate }),
        vad({ ...options, sampleRate: 16000, queue: live ? { policy: 'drop-oldest', capacity: 64 } : { policy: 'pause', capacity: 32, flow } }),
      );
    }),
  );
}
