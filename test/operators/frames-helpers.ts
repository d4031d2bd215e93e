import { from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { audioFrame, samplePts, type AudioFrame } from '../../core/frames.js';

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

/**
 * Mono frames of `size` samples over x whose pts jump forward by `gapUs` after sample `gapAt`
 * (a multiple of `size`), as after frames a live queue dropped, and the source time of each
 * sample of x on that timeline.
 */
export function framesWithGap(x: Float32Array, sampleRate: number, size: number, gapAt: number, gapUs: number): { frames: AudioFrame[]; sourceUs: (sample: number) => number } {
  const sourceUs = (i: number) => samplePts(i < gapAt ? 0 : gapUs, i, sampleRate);
  const frames: AudioFrame[] = [];
  for (let i = 0; i < x.length; i += size) frames.push(audioFrame(sourceUs(i), sampleRate, 1, x.slice(i, i + size)));
  return { frames, sourceUs };
}

/** The pts of each frame is the source time of its first sample (samples counted over the frames). */
export function assertPtsFollow(out: AudioFrame[], sourceUs: (sample: number) => number): void {
  let n = 0;
  for (const f of out) {
    if (Math.abs(f.pts - sourceUs(n)) > 1) throw new Error(`frame at sample ${n}: pts ${f.pts}, source time ${sourceUs(n)}`);
    n += f.data.length / f.channels;
  }
}
