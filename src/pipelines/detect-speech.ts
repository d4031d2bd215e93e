/**
 * The first ready-made pipeline: any media ffmpeg can read -> mono audio at its native rate ->
 * resample to 16 kHz (our polyphase kernel) -> Silero VAD -> speech segments.
 */
import type { Observable } from 'rxjs';
import { vad, type VadOptions } from '../../operators/vad.js';
import type { VadEvent } from '../../core/frames.js';
import { fileAudio16k, type FileAudioOptions } from './file-audio.js';

export interface DetectSpeechOptions extends Omit<VadOptions, 'queue' | 'sampleRate'>, FileAudioOptions {}

export function detectSpeech(input: string, options: DetectSpeechOptions = {}): Observable<VadEvent> {
  return fileAudio16k(input, options, (queue) => vad({ ...options, sampleRate: 16000, queue }));
}
