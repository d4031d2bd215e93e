/**
 * `rechunk`: audio frames of any size -> frames of exactly `frameSamples` sample frames,
 * advancing by `hopSamples` (default: no overlap). Works on interleaved multi-channel audio.
 * The partial frame left at the end is zero-padded and emitted on completion (`flush: false`
 * drops it instead, for consumers that need full frames only).
 */
import { Rechunker } from '../kernels/rechunker.js';
import { CausewayError } from '../core/errors.js';
import { audioFrame, samplePts, type AudioFrame } from '../core/frames.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { syncMap } from '../core/sync-operator.js';
import { checkAudio } from './audio-checks.js';

export interface RechunkOptions {
  frameSamples: number;
  hopSamples?: number;
  flush?: boolean;
}

export function rechunk(o: RechunkOptions): StreamOperator<AudioFrame, AudioFrame> {
  const hop = o.hopSamples ?? o.frameSamples;
  if (!(Number.isInteger(o.frameSamples) && o.frameSamples > 0 && Number.isInteger(hop) && hop > 0 && hop <= o.frameSamples)) {
    throw new CausewayError('invalid-argument', `rechunk: need integers 0 < hopSamples <= frameSamples, got ${o.frameSamples}/${hop}`);
  }
  const op = syncMap<AudioFrame, AudioFrame>('rechunk', () => {
    let chunker: Rechunker | undefined;
    let first: AudioFrame | undefined;
    let wall = 0;
    const out = (emit: (f: AudioFrame) => void) => (frame: Float32Array, index: number) =>
      emit(audioFrame(samplePts(first!.pts, index * hop, first!.sampleRate), first!.sampleRate, first!.channels, frame.slice(), wall));
    return {
      step(frame, emit) {
        checkAudio('rechunk', frame, first ?? {});
        if (!first) {
          first = frame;
          chunker = new Rechunker(o.frameSamples * frame.channels, hop * frame.channels);
        }
        wall = frame.wallMs;
        chunker!.push(frame.data, out(emit));
      },
      flush(emit) {
        if (chunker && o.flush !== false) chunker.flush(out(emit));
      },
    };
  });
  // A frame is complete only when its last sample has arrived: latency is one frame, minus nothing.
  return withInfo(op, { name: 'rechunk', latencyUs: 0, lookaheadUs: 0 });
}
