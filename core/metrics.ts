/**
 * Prometheus-style metrics without a dependency: counters, gauges and histograms with labels,
 * rendered in the text exposition format. One process-wide registry (`metrics`); each metric
 * keeps one series per distinct label set, so label values must be bounded (session ids are
 * removed with `remove` when a session ends).
 */

export type Labels = Record<string, string>;

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
  abstract render(): string[];
  abstract remove(labels: Labels): void;
}

/** One number per label set: the shared body of counters and gauges. */
abstract class ScalarMetric extends Metric {
  protected readonly series = new Map<string, number>();
  protected addTo(labels: Labels, by: number): void {
    const k = key(labels);
    this.series.set(k, (this.series.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.series.get(key(labels)) ?? 0;
  }
  /** The sum over every label set. */
  total(): number {
    let t = 0;
    for (const v of this.series.values()) t += v;
    return t;
  }
  remove(labels: Labels): void {
    this.series.delete(key(labels));
  }
  render(): string[] {
    return [...this.series].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

export class Counter extends ScalarMetric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    this.addTo(labels, by);
  }
}

export class Gauge extends ScalarMetric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(labels: Labels, value: number): void {
    this.series.set(key(labels), value);
  }
  add(labels: Labels, by: number): void {
    this.addTo(labels, by);
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram');
  }
  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(key(labels))?.count ?? 0;
  }
  /** Observations and their sum over every label set. */
  totals(): { count: number; sum: number } {
    let count = 0;
    let sum = 0;
    for (const s of this.series.values()) {
      count += s.count;
      sum += s.sum;
    }
    return { count, sum };
  }
  remove(labels: Labels): void {
    this.series.delete(key(labels));
  }
  render(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly all = new Map<string, Metric>();
  private register<M extends Metric>(m: M): M {
    const existing = this.all.get(m.name);
    if (existing) return existing as M;
    this.all.set(m.name, m);
    return m;
  }
  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }
  /** Text exposition format (version 0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const m of this.all.values()) {
      lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return lines.join('\n') + '\n';
  }
}

export const metrics = new Registry();

const MS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/** The metrics every layer reports into; defined once so names stay consistent. */
export const sharedMetrics = {
  framesIn: metrics.counter('causeway_frames_in_total', 'Frames received by an operator'),
  framesOut: metrics.counter('causeway_frames_out_total', 'Frames emitted by an operator'),
  drops: metrics.counter('causeway_frames_dropped_total', 'Frames dropped by a bounded queue, by operator and policy'),
  frameAgeMs: metrics.histogram('causeway_frame_age_ms', 'Age of frames (now - source wall clock) at an operator output', MS_BUCKETS),
  inferenceMs: metrics.histogram('causeway_inference_ms', 'Duration of one model run (one step, or one batch of steps)', MS_BUCKETS),
  controlToFrameMs: metrics.histogram('causeway_control_to_frame_ms', 'From a control message arriving to the first generated frame it steered leaving the generator', MS_BUCKETS),
  batchRetries: metrics.counter('causeway_batch_retries_total', 'Batched model runs that failed and were run again step by step (a bad step, or a batch the model cannot take)'),
  batchSize: metrics.histogram('causeway_batch_size', 'Streams whose steps ran together in one model run', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
  provider: metrics.gauge('causeway_model_provider', 'Execution provider in use per loaded model (value 1)'),
  providerFallbacks: metrics.counter('causeway_provider_fallbacks_total', 'device=auto: a candidate device (CUDA, WebGPU) could not start, so the model runs on the CPU'),
  modelRuns: metrics.counter('causeway_model_runs_total', 'Model runs (one step, or one batch of steps) per provider: with device=auto, large batches may run on a device and small ones on the CPU'),
  workerDeaths: metrics.counter('causeway_worker_deaths_total', "A model's worker thread that died: its runs in flight failed, and (restarted=true) a new worker took the later runs"),
  deviceCheckFailures: metrics.counter('causeway_device_check_failures_total', 'Models that run on the CPU because their outputs on the device asked for differed from the CPU'),
};
