/**
 * Frame types shared by every layer.
 *
 * Time: `pts` is the presentation time in integer microseconds on the source's timeline.
 * It is derived from sample (or frame) counts, never accumulated from rounded durations,
 * so it never drifts. `wallMs` is the wall-clock time (ms, `nowMs()`) at which the source
 * produced the frame; it is carried unchanged through every hop so any stage can measure
 * frame age (latency) as `nowMs() - frame.wallMs`.
 */

export interface AudioFrame {
  readonly kind: 'audio';
  /** Presentation time of the first sample, integer microseconds. */
  readonly pts: number;
  /** Wall-clock time (ms) at which the source produced this frame. */
  readonly wallMs: number;
  readonly sampleRate: number;
  readonly channels: number;
  /** Interleaved float32 samples in [-1, 1]; length = samples * channels. */
  readonly data: Float32Array;
}

export type PixelFormat = 'rgb24' | 'rgba' | 'gray' | 'yuv420p';

export interface VideoFrame {
  readonly kind: 'video';
  readonly pts: number;
  readonly wallMs: number;
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
  readonly data: Uint8Array;
}

/** A frame of spectral data (one STFT column or a mel column), time-stamped like audio. */
export interface SpectrumFrame {
  readonly kind: 'spectrum';
  /** Presentation time of the first sample of the analysis window. */
  readonly pts: number;
  readonly wallMs: number;
  readonly sampleRate: number;
  /** Interleaved complex bins (re, im, re, im, ...) for an STFT; plain values for a mel frame. */
  readonly data: Float32Array;
}

/** Every event carries the interval of source time it describes. */
export interface TimedEvent {
  readonly type: string;
  readonly startUs: number;
  readonly endUs: number;
  readonly wallMs: number;
}

export interface SpeechStartEvent extends TimedEvent {
  readonly type: 'speech-start';
}

export interface SpeechEndEvent extends TimedEvent {
  readonly type: 'speech-end';
}

export type VadEvent = SpeechStartEvent | SpeechEndEvent;

/**
 * A keyword heard (the `kws` operator): the word, its score, and the audio the decision read
 * (`startUs`..`endUs`: about 2 s ending at the step where it fired; the word ends inside it,
 * usually in its last few hundred milliseconds).
 */
export interface KeywordEvent extends TimedEvent {
  readonly type: 'keyword';
  readonly word: string;
  readonly score: number;
}

/** A caption: `partial` (the hypothesis still being heard, which only grows) or `final`. */
export interface AsrEvent extends TimedEvent {
  readonly type: 'partial' | 'final';
  readonly text: string;
}

/** Wall-clock milliseconds with sub-millisecond resolution, monotonic within a process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** pts (µs) of sample `index` on a timeline that starts at `startPts`. Exact for integer inputs. */
export function samplePts(startPts: number, index: number, sampleRate: number): number {
  return startPts + Math.round((index * 1e6) / sampleRate);
}

/** Number of sample frames (per channel) held by an audio frame. */
export function frameSamples(frame: AudioFrame): number {
  return frame.data.length / frame.channels;
}

export function audioFrame(
  pts: number,
  sampleRate: number,
  channels: number,
  data: Float32Array,
  wallMs: number = nowMs(),
): AudioFrame {
  return { kind: 'audio', pts, wallMs, sampleRate, channels, data };
}
