/**
 * `toMono`: interleaved multi-channel audio -> mono by averaging the channels (mono passes
 * through untouched). Averaging, not summing, keeps full-scale input inside [-1, 1].
 */
import { audioFrame, type AudioFrame } from '../core/frames.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { syncMap } from '../core/sync-operator.js';
import { checkAudio } from './audio-checks.js';

export function toMono(): StreamOperator<AudioFrame, AudioFrame> {
  const op = syncMap<AudioFrame, AudioFrame>('toMono', () => ({
    step(frame, emit) {
      checkAudio('toMono', frame, {});
      const ch = frame.channels;
      if (ch === 1) return emit(frame);
      const n = frame.data.length / ch;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < ch; c++) s += frame.data[i * ch + c];
        out[i] = s / ch;
      }
      emit(audioFrame(frame.pts, frame.sampleRate, 1, out, frame.wallMs));
    },
  }));
  return withInfo(op, { name: 'toMono', latencyUs: 0, lookaheadUs: 0 });
}
