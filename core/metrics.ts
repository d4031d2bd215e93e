/**
 * The process's Prometheus metrics, on prom-client. One registry (`metrics`), Causeway's own
 * rather than prom-client's global `register`, so an embedder's metrics and ours (or two
 * copies of this package in one process) never collide; an embedder can merge it into theirs
 * (`Registry.merge`) or serve it alone (`await metrics.metrics()`, `metrics.contentType`).
 *
 * Every metric declares its label names, so a label set that a call site gets wrong fails
 * to compile (and throws at run time from JavaScript). Each metric keeps one series per
 * distinct label set, so label values must be bounded: session ids are removed with
 * `remove` when a session ends.
 *
 * prom-client reads values asynchronously (`get()` returns a promise); `metricValue`,
 * `metricTotal`, `histogramCount` and `histogramTotals` below are the reads the CLI, the load
 * test and the tests need. None of them belongs on a per-frame path: writes (`inc`, `set`,
 * `observe`) are the only thing the media paths do.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export type Labels = Record<string, string>;

export const metrics = new Registry();

/** A counter in `metrics`, with the label names its call sites use. */
export function counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [metrics] });
}

/** A gauge in `metrics`, with the label names its call sites use. */
export function gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return new Gauge({ name, help, labelNames, registers: [metrics] });
}

/** A histogram in `metrics`, with the label names its call sites use and its bucket upper bounds. */
export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [metrics] });
}

let processMetrics = false;

/**
 * Adds prom-client's default metrics to `metrics` (once; later calls do nothing): process CPU
 * seconds, resident memory, open file descriptors, heap sizes, GC durations by kind and
 * event-loop lag, under their usual names (`process_cpu_user_seconds_total`,
 * `nodejs_eventloop_lag_seconds`, ...), unprefixed so that ready-made Node.js dashboards and
 * alerts read them as they are. The server calls it when it starts; importing this module does
 * not, since it starts an event-loop delay monitor and a GC observer for the whole process.
 */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: metrics });
}

type Sample = { value: number; labels: Partial<Record<string, string | number>>; metricName?: string };
type Readable = { get(): Promise<{ name: string; values: Sample[] }> };

/** The same label set: the same names, each with the same value (numbers and strings alike). */
function sameLabels(a: Sample['labels'], b: Partial<Record<string, string | number>>): boolean {
  const names = (l: Sample['labels']) =>
    Object.keys(l)
      .filter((k) => l[k] !== undefined)
      .sort();
  const na = names(a);
  const nb = names(b);
  return na.length === nb.length && na.every((k, i) => k === nb[i] && String(a[k]) === String(b[k]));
}

/** The value of a counter's or gauge's series with exactly `labels` (0 when it has none). */
export async function metricValue<L extends string>(metric: Counter<L> | Gauge<L>, labels: LabelValues<L> = {}): Promise<number> {
  const { values } = await (metric as unknown as Readable).get();
  return values.find((v) => sameLabels(v.labels, labels))?.value ?? 0;
}

/** The sum of a counter's or gauge's series over every label set. */
export async function metricTotal(metric: Counter<string> | Gauge<string>): Promise<number> {
  const { values } = await (metric as unknown as Readable).get();
  return values.reduce((t, v) => t + v.value, 0);
}

/** Observations in a histogram's series with exactly `labels` (0 when it has none). */
export async function histogramCount<L extends string>(h: Histogram<L>, labels: LabelValues<L> = {}): Promise<number> {
  const { name, values } = await (h as unknown as Readable).get();
  return values.find((v) => v.metricName === `${name}_count` && sameLabels(v.labels, labels))?.value ?? 0;
}

/** A histogram's observations and their sum over every label set. */
export async function histogramTotals(h: Histogram<string>): Promise<{ count: number; sum: number }> {
  const { name, values } = await (h as unknown as Readable).get();
  let count = 0;
  let sum = 0;
  for (const v of values) {
    if (v.metricName === `${name}_count`) count += v.value;
    else if (v.metricName === `${name}_sum`) sum += v.value;
  }
  return { count, sum };
}

const MS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/** The metrics every layer reports into; defined once so names and label names stay consistent. */
export const sharedMetrics = {
  framesIn: counter('causeway_frames_in_total', 'Frames received by an operator', ['operator']),
  framesOut: counter('causeway_frames_out_total', 'Frames emitted by an operator', ['operator']),
  drops: counter('causeway_frames_dropped_total', 'Frames dropped by a bounded queue, by operator and policy', ['operator', 'policy']),
  frameAgeMs: histogram('causeway_frame_age_ms', 'Age of frames (now - source wall clock) at an operator output', ['operator'], MS_BUCKETS),
  inferenceMs: histogram('causeway_inference_ms', 'Duration of one model run (one step, or one batch of steps)', ['model'], MS_BUCKETS),
  controlToFrameMs: histogram('causeway_control_to_frame_ms', 'From a control message arriving to the first generated frame it steered leaving the generator', ['operator'], MS_BUCKETS),
  batchRetries: counter('causeway_batch_retries_total', 'Batched model runs that failed and were run again step by step (a bad step, or a batch the model cannot take)', ['model']),
  batchSize: histogram('causeway_batch_size', 'Streams whose steps ran together in one model run', ['model'], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
  provider: gauge('causeway_model_provider', 'Execution provider in use per loaded model (value 1)', ['model', 'provider']),
  providerFallbacks: counter('causeway_provider_fallbacks_total', 'device=auto: a candidate device (CUDA, WebGPU) could not start, so the model runs on the CPU', ['model']),
  modelRuns: counter('causeway_model_runs_total', 'Model runs (one step, or one batch of steps) per provider: with device=auto, large batches may run on a device and small ones on the CPU', ['model', 'provider']),
  workerDeaths: counter('causeway_worker_deaths_total', "A model's worker thread that died: its runs in flight failed, and (restarted=true) a new worker took the later runs", ['model', 'restarted']),
  deviceCheckFailures: counter('causeway_device_check_failures_total', 'Models that run on the CPU because their outputs on the device asked for differed from the CPU', ['model', 'provider']),
};
