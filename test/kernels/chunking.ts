import { randomChunking } from '../helpers-random.js';

/**
 * Chunk-size patterns that break streaming kernels in different ways: random sizes with
 * explicit empty chunks, single samples, sizes just around and far above the frame size,
 * and the whole signal at once.
 */
export function chunkings(n: number, rand: () => number, frame: number): number[][] {
  const withZeros = randomChunking(n, rand, 0, 3 * frame).flatMap((s) => (rand() < 0.3 ? [0, s] : [s]));
  const tiny = randomChunking(n, rand, 0, 3);
  const picks = [0, 1, frame - 1, frame, frame + 1, 3 * frame + 7, Math.floor(rand() * 2 * frame)];
  const mixed: number[] = [];
  for (let left = n; left > 0; ) {
    const s = Math.min(left, picks[Math.floor(rand() * picks.length)]);
    mixed.push(s);
    left -= s;
  }
  return [withZeros, tiny, mixed, [n]];
}

/** Calls fn on consecutive views of x with the given sizes (which must sum to x.length). */
export function feed(x: Float32Array, sizes: number[], fn: (chunk: Float32Array) => void): void {
  let at = 0;
  for (const s of sizes) {
    fn(x.subarray(at, at + s));
    at += s;
  }
  if (at !== x.length) throw new Error(`chunk sizes sum to ${at}, signal has ${x.length}`);
}

export function concat(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, to - from));
}

export function tone(n: number, freq: number, rate: number, amp = 1, phase = 0): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate + phase);
  return x;
}
