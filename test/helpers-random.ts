/** Seeded PRNG (mulberry32) so random chunkings and signals are reproducible from a printed seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform noise in [-1, 1). */
export function randomSignal(n: number, rand: () => number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rand() * 2 - 1;
  return x;
}

/** Split `n` into random chunk lengths in [minLen, maxLen] (the last may be shorter; 0-length chunks allowed when minLen = 0). */
export function randomChunking(n: number, rand: () => number, minLen = 0, maxLen = 1000): number[] {
  const sizes: number[] = [];
  let left = n;
  while (left > 0) {
    const s = Math.min(left, minLen + Math.floor(rand() * (maxLen - minLen + 1)));
    sizes.push(s);
    left -= s;
  }
  return sizes;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
