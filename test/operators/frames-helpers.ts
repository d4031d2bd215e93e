import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { audioFrame, samplePts, type AudioFrame } from '../../src/core/frames.js';

/** Cuts interleaved samples into AudioFrames of the given sizes (in sample frames), pts from the sample count. */
export function framesOf(x: Float32Array, sampleRate: number, sizes: number[], channels = 1, startPts = 0): AudioFrame[] {
  const out: AudioFrame[] = [];
  let i = 0;
  for (const s of sizes) {
    out.push(audioFrame(samplePts(startPts, i, sampleRate), sampleRate, channels, x.slice(i * channels, (i + s) * channels)));
    i += s;
  }
  return out;
}

export function concat(frames: { data: Float32Array }[]): Float32Array {
  const n = frames.reduce((a, f) => a + f.data.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const f of frames) {
    out.set(f.data, o);
    o += f.data.length;
  }
  return out;
}

export function collect<T>(o: Observable<T>): Promise<T[]> {
  return lastValueFrom(o.pipe(toArray()));
}

export { from };
