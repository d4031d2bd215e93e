/** One line of the benchmark table: an optimised path beside its baseline, measured in the same run. */
export interface BenchRow {
  /** What is measured, e.g. "STFT 1024/256 streaming vs recompute". */
  name: string;
  /** Optimised path: a figure with its unit, e.g. "12.3 ms" or "RTF 0.004". */
  value: string;
  /** Baseline measured in the same run, same unit ("" when the row has no baseline). */
  baseline: string;
  /** baseline / optimised (speed-up), or "" */
  ratio: string;
  /** Theoretical bound of the ratio where one exists, e.g. "N/H = 4". */
  bound: string;
  /** Anything else a reader needs: p50/p99, peak RSS, sizes. */
  notes: string;
}
