/**
 * `stft` / `istft` / `logMel`: the spectral front end as operators over mono audio.
 *
 * Timing: STFT frame k analyses the window whose last sample is source sample k*hop + hop - 1
 * (the stream is treated as left-padded by nFft - hop zeros, see kernels/stft). Its pts is the
 * source time of the window's first sample, which is before the stream's start for the first
 * (nFft - hop) / hop frames. `istft` gives each block of hop samples the pts of the frame it
 * completes minus nothing: output block k holds source samples [k*hop - (nFft - hop), ...),
 * whose time is exactly that frame's pts, so STFT -> ISTFT is an identity on the timeline
 * (with nFft - hop samples of algorithmic latency).
 */
import { StreamingLogMel, type LogMelOptions } from '../kernels/mel.js';
import { StreamingIstft, StreamingStft, type StftOptions } from '../kernels/stft.js';
import { CausewayError } from '../core/errors.js';
import type { OperatorFunction } from 'rxjs';
import { audioFrame, samplePts, type AudioFrame, type SpectrumFrame } from '../core/frames.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { syncMap } from '../core/sync-operator.js';
import { checkAudio } from './audio-checks.js';

function spectrum(pts: number, sampleRate: number, data: Float32Array, wallMs: number): SpectrumFrame {
  return { kind: 'spectrum', pts, wallMs, sampleRate, data };
}

function usOf(samples: number, sampleRate: number | undefined): number {
  return sampleRate ? Math.round((samples * 1e6) / sampleRate) : 0;
}

export interface StftOperatorOptions extends StftOptions {
  /** Expected input rate: states the latency in µs before the first frame, and frames at another rate are refused. */
  sampleRate?: number;
}

/** A kernel that turns audio into one vector per hop (STFT column, mel column). */
interface FramedKernel {
  readonly latency: number;
  push(input: Float32Array, emit: (v: Float32Array, frameIndex: number) => void): void;
}

/**
 * The shape stft and logMel share: mono audio in, one SpectrumFrame per hop out, each stamped
 * with the source time of its analysis window's first sample (k * hop - latency samples).
 */
function framedAnalysis(name: string, hop: number, sampleRate: number | undefined, make: () => FramedKernel): OperatorFunction<AudioFrame, SpectrumFrame> {
  return syncMap<AudioFrame, SpectrumFrame>(name, () => {
    const kernel = make();
    let first: AudioFrame | undefined;
    let wall = 0;
    return {
      step(frame, emit) {
        checkAudio(name, frame, first ?? { channels: 1, sampleRate });
        first ??= frame;
        wall = frame.wallMs;
        const rate = first.sampleRate;
        const t0 = first.pts;
        kernel.push(frame.data, (v, k) => emit(spectrum(samplePts(t0, k * hop - kernel.latency, rate), rate, v.slice(), wall)));
      },
    };
  });
}

export function stft(o: StftOperatorOptions): StreamOperator<AudioFrame, SpectrumFrame> {
  const op = framedAnalysis('stft', o.hop, o.sampleRate, () => new StreamingStft(o));
  return withInfo(op, { name: 'stft', latencyUs: usOf(o.nFft - o.hop, o.sampleRate), lookaheadUs: 0 });
}

export function istft(o: StftOperatorOptions): StreamOperator<SpectrumFrame, AudioFrame> {
  const bins = o.nFft / 2 + 1;
  const op = syncMap<SpectrumFrame, AudioFrame>('istft', () => {
    const kernel = new StreamingIstft(o);
    return {
      step(frame, emit) {
        if (frame.kind !== 'spectrum' || frame.data.length !== bins * 2) {
          throw new CausewayError('invalid-frame', `istft expects spectrum frames of ${bins} complex bins (${bins * 2} floats), got ${frame.data.length}`);
        }
        const out = kernel.push(frame.data);
        emit(audioFrame(frame.pts, frame.sampleRate, 1, out.slice(), frame.wallMs));
      },
    };
  });
  return withInfo(op, { name: 'istft', latencyUs: 0, lookaheadUs: 0 });
}

export function logMel(o: LogMelOptions): StreamOperator<AudioFrame, SpectrumFrame> {
  const op = framedAnalysis('logMel', o.hop, o.sampleRate, () => new StreamingLogMel(o));
  return withInfo(op, { name: 'logMel', latencyUs: usOf(o.nFft - o.hop, o.sampleRate), lookaheadUs: 0 });
}
