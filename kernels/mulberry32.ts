/**
 * mulberry32: a tiny seeded 32-bit generator (Tommy Ettinger's), for reproducible draws where
 * quality needs are modest (start noise, jitter, positions). Returns the next value as an
 * unsigned 32-bit integer; divide by 2^32 for [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
