/** Small helpers shared by the benchmarks that are not kernel-specific. */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function median(xs: number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}
