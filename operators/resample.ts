/**
 * `resample`: audio frames at any rate -> frames at `toRate`, one polyphase kernel per channel.
 * The output is aligned to the source timeline: the filter's group delay (a whole number of
 * output samples by design) is trimmed from the start and the tail is flushed on completion, so
 * output sample j is the source signal at time j / toRate and a pts means the same instant before and
 * after resampling.
 */
import { Resampler, resamplerDelay } from '../kernels/resample.js';
import { CausewayError } from '../core/errors.js';
import { audioFrame, samplePts, type AudioFrame } from '../core/frames.js';
import { logger } from '../core/log.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { syncMap } from '../core/sync-operator.js';
import { checkAudio } from './audio-checks.js';

const log = logger('resample');
/** One warning per process when the resampler's WebAssembly loop cannot start. */
let warnedFallback = false;

export interface ResampleOptions {
  toRate: number;
  /** Expected input rate; when given, the declared latency is exact before the first frame. */
  fromRate?: number;
  stopbandDb?: number;
}

export function resample(o: ResampleOptions): StreamOperator<AudioFrame, AudioFrame> {
  if (!(Number.isInteger(o.toRate) && o.toRate > 0)) throw new CausewayError('invalid-argument', `resample: toRate must be a positive integer, got ${o.toRate}`);
  const op = syncMap<AudioFrame, AudioFrame>('resample', () => {
    let kernels: Resampler[] = [];
    let first: AudioFrame | undefined;
    let trim = 0;
    let produced = 0;
    let consumed = 0;
    let wall = 0;
    let planar: Float32Array = new Float32Array(0);
    const interleave = (outs: Float32Array[], emit: (f: AudioFrame) => void, limit = Infinity) => {
      const ch = outs.length;
      let n = outs[0].length;
      const skip = Math.min(trim, n);
      trim -= skip;
      n = Math.min(n - skip, limit);
      if (n <= 0) return;
      const data = new Float32Array(n * ch);
      if (ch === 1) data.set(outs[0].subarray(skip, skip + n));
      else {
        for (let c = 0; c < ch; c++) {
          const src = outs[c];
          for (let i = 0; i < n; i++) data[i * ch + c] = src[i + skip];
        }
      }
      emit(audioFrame(samplePts(first!.pts, produced, o.toRate), o.toRate, ch, data, wall));
      produced += n;
    };
    return {
      step(frame, emit) {
        checkAudio('resample', frame, first ?? {});
        if (!first) {
          first = frame;
          if (frame.sampleRate === o.toRate) {
            kernels = [];
          } else {
            kernels = Array.from({ length: frame.channels }, () => new Resampler({ fromRate: frame.sampleRate, toRate: o.toRate, stopbandDb: o.stopbandDb }));
            trim = kernels[0].delay;
            if (kernels[0].engineFallback !== undefined && !warnedFallback) {
              warnedFallback = true;
              log.warn(`resample: the WebAssembly loop cannot start (${kernels[0].engineFallback}); resampling with the JavaScript loop, about 10x the CPU`);
            }
          }
        }
        wall = frame.wallMs;
        if (kernels.length === 0) {
          // Same rate: pass through, re-timed on the sample count like every other output.
          emit(audioFrame(samplePts(first.pts, produced, o.toRate), o.toRate, frame.channels, frame.data, wall));
          produced += frame.data.length / frame.channels;
          return;
        }
        const ch = frame.channels;
        const n = frame.data.length / ch;
        consumed += n;
        if (planar.length < n) planar = new Float32Array(n);
        const outs: Float32Array[] = [];
        if (ch === 1) {
          // Mono needs no de-interleaving, and interleave() copies the kernel's view before its next push.
          outs.push(kernels[0].push(frame.data));
        } else {
          for (let c = 0; c < ch; c++) {
            const p = planar.subarray(0, n);
            for (let i = 0; i < n; i++) p[i] = frame.data[i * ch + c];
            // Each kernel returns a view into its own buffer, valid until its next push: copy now.
            outs.push(kernels[c].push(p).slice());
          }
        }
        interleave(outs, emit);
      },
      flush(emit) {
        if (kernels.length === 0 || !first) return;
        // Keep only the tail that belongs to real input: ceil(inputSamples * toRate / fromRate) in all.
        const total = Math.ceil((consumed * o.toRate) / first.sampleRate);
        const outs = kernels.map((k) => k.flush().slice());
        interleave(outs, emit, Math.max(0, total - produced));
      },
    };
  });
  const latencyUs = o.fromRate ? Math.round((resamplerDelay({ fromRate: o.fromRate, toRate: o.toRate, stopbandDb: o.stopbandDb }) * 1e6) / o.toRate) : 0;
  return withInfo(op, { name: 'resample', latencyUs, lookaheadUs: latencyUs });
}
