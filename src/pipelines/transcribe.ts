/**
 * File/URL -> ffmpeg (mono, native rate) -> resample to 16 kHz -> asr; subtitle cue formats.
 */
import type { Observable } from 'rxjs';
import { asr, type AsrEvent, type AsrOptions } from '../../operators/asr/index.js';
import type { MoonshineAsrOptions } from '../../operators/asr/moonshine.js';
import { fileAudio16k, type FileAudioOptions } from './file-audio.js';

export type TranscribeOptions = (Omit<AsrOptions, 'queue'> | Omit<MoonshineAsrOptions & { engine: 'moonshine' }, 'queue'>) & FileAudioOptions;

export function transcribe(input: string, options: TranscribeOptions): Observable<AsrEvent> {
  return fileAudio16k(input, options, (queue) => asr({ ...options, queue }));
}

const clock = (us: number, sep: ',' | '.') => {
  const ms = Math.max(0, Math.round(us / 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
};

/** One subtitle cue (SubRip), numbered from 1. */
export function srtCue(index: number, e: AsrEvent): string {
  return `${index}\n${clock(e.startUs, ',')} --> ${clock(e.endUs, ',')}\n${e.text}\n\n`;
}

/** One WebVTT cue (the file starts with "WEBVTT\n\n"). */
export function vttCue(e: AsrEvent): string {
  return `${clock(e.startUs, '.')} --> ${clock(e.endUs, '.')}\n${e.text}\n\n`;
}
