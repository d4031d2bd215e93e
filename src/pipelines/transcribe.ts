/**
 * File/URL -> ffmpeg (mono, native rate) -> resample to 16 kHz -> asr. Files are decoded as fast
 * as recognition keeps up (flow control pauses ffmpeg; nothing dropped), `realtime` paces the
 * input like a live source.
 */
import { defer, switchMap, type Observable } from 'rxjs';
import { ffmpegAudioInput, probeMedia } from '../../media/ffmpeg/index.js';
import { asr, type AsrEvent, type AsrOptions } from '../../operators/asr.js';
import { resample } from '../../operators/resample.js';
import { MediaError } from '../core/errors.js';
import { FlowControl } from '../core/flow.js';

export interface TranscribeOptions extends Omit<AsrOptions, 'queue'> {
  realtime?: boolean;
}

export function transcribe(input: string, options: TranscribeOptions): Observable<AsrEvent> {
  return defer(async () => {
    const info = await probeMedia(input);
    if (!info.audio) throw new MediaError('no-audio-stream', `${input}: no audio stream`);
    return info.audio.sampleRate;
  }).pipe(
    switchMap((rate) => {
      const flow = new FlowControl();
      const live = options.realtime === true;
      return ffmpegAudioInput(input, { sampleRate: rate, channels: 1, realtime: live, flow }).pipe(
        resample({ toRate: 16000, fromRate: rate }),
        asr({ ...options, queue: live ? { policy: 'drop-oldest', capacity: 64 } : { policy: 'pause', capacity: 32, flow } }),
      );
    }),
  );
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
