/**
 * Kernel benchmarks: each optimised path beside a naive baseline measured in the same run.
 * Absolute times are noisy on shared machines; the ratios are the figures to read.
 */
import { pathToFileURL } from 'node:url';
import { RealFft } from '../../kernels/fft.js';
import { Resampler } from '../../kernels/resample.js';
import { StreamingStft } from '../../kernels/stft.js';
import { makeWindow } from '../../kernels/window.js';
import { randomSignal, rng } from '../helpers-random.js';
import { directFir } from './direct-fir.js';
import type { BenchRow } from './row.js';

/** Results are summed here so the optimiser cannot drop the work being timed. */
export let benchSink = 0;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function fmtUs(ms: number): string {
  return `${(ms * 1000).toFixed(1)} µs`;
}

function fmtRatio(r: number): string {
  return `${r.toFixed(2)}x`;
}

function peakRssMb(): string {
  return `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`;
}

/** Feeds x in chunks of `chunk` samples; returns total ms and the sorted per-chunk times. */
function timeChunks(x: Float32Array, chunk: number, push: (c: Float32Array) => void): { total: number; perChunk: number[] } {
  const chunks: Float32Array[] = [];
  for (let at = 0; at < x.length; at += chunk) chunks.push(x.subarray(at, Math.min(x.length, at + chunk)));
  const perChunk = new Array<number>(chunks.length);
  const t0 = performance.now();
  for (let i = 0; i < chunks.length; i++) {
    const a = performance.now();
    push(chunks[i]);
    perChunk[i] = performance.now() - a;
  }
  const total = performance.now() - t0;
  perChunk.sort((a, b) => a - b);
  return { total, perChunk };
}

/**
 * Naive streaming STFT that keeps every sample and, at each hop, recomputes frames from
 * scratch with the same FFT and window (no allocation, so the ratio counts work, not GC):
 * - 'window': the offline STFT of the latest nFft-sample analysis window (left-padded as
 *   stftOffline does: N/H frames, of which only the last is new): the classic O(window) vs
 *   O(hop) baseline, bound N/H.
 * - 'buffer': every frame of the whole buffer received so far (O(buffer) per hop).
 */
class RecomputeStft {
  private readonly fft: RealFft;
  private readonly w: Float32Array;
  private readonly all: Float32Array;
  private readonly frame: Float32Array;
  private readonly spec: Float32Array;
  private readonly padded: Float32Array;
  private n = 0;
  private nextHop: number;
  sink = 0;

  constructor(private readonly nFft: number, private readonly hop: number, capacity: number, private readonly mode: 'window' | 'buffer') {
    this.fft = new RealFft(nFft);
    this.w = makeWindow('hann', nFft);
    this.all = new Float32Array(capacity + nFft);
    this.frame = new Float32Array(nFft);
    this.spec = new Float32Array(nFft + 2);
    this.padded = new Float32Array(2 * nFft - hop);
    this.nextHop = hop;
  }

  /** Returns the ms spent on the last hop's recompute (for per-hop cost at a given buffer length). */
  push(c: Float32Array): number {
    this.all.set(c, this.n);
    this.n += c.length;
    let last = 0;
    while (this.n >= this.nextHop) {
      const t0 = performance.now();
      if (this.mode === 'window') this.recomputeWindow(this.nextHop);
      else this.recomputeBuffer(this.nextHop);
      last = performance.now() - t0;
      this.nextHop += this.hop;
    }
    return last;
  }

  private recomputeWindow(end: number): void {
    const { nFft, hop } = this;
    const pad = nFft - hop;
    this.padded.fill(0, 0, pad);
    const from = end - nFft;
    for (let i = 0; i < nFft; i++) this.padded[pad + i] = from + i >= 0 ? this.all[from + i] : 0;
    for (let s = 0; s + nFft <= this.padded.length; s += hop) this.analyse(this.padded, s);
  }

  private recomputeBuffer(end: number): void {
    // Frames of the left-padded buffer [0, end): frame k covers x[k*hop - pad, k*hop - pad + nFft).
    const { nFft, hop } = this;
    const pad = nFft - hop;
    for (let start = -pad; start + nFft <= end; start += hop) {
      if (start >= 0) this.analyse(this.all, start);
      else {
        for (let i = 0; i < nFft; i++) this.padded[i] = start + i >= 0 ? this.all[start + i] : 0;
        this.analyse(this.padded, 0);
      }
    }
  }

  private analyse(src: Float32Array, at: number): void {
    const f = this.frame;
    const w = this.w;
    for (let i = 0; i < this.nFft; i++) f[i] = src[at + i] * w[i];
    this.fft.forward(f, this.spec);
    this.sink += this.spec[2];
  }
}

function benchStft(): BenchRow[] {
  const rate = 16000;
  const nFft = 1024;
  const hop = 256;
  const chunk = rate / 50;
  const x = randomSignal(30 * rate, rng(1));
  const hops = Math.floor(x.length / hop);
  let sink = 0;
  const onFrame = (s: Float32Array): void => {
    sink += s[2];
  };

  // Streaming and baseline runs alternate and the ratio is the median of per-round ratios, so
  // both sides see the same machine load (this host is shared; absolute times drift).
  const stft = new StreamingStft({ nFft, hop });
  const win = new RecomputeStft(nFft, hop, x.length, 'window');
  timeChunks(x.subarray(0, 5 * rate), chunk, (c) => stft.push(c, onFrame));
  timeChunks(x.subarray(0, 5 * rate), chunk, (c) => win.push(c));
  const rounds: { stream: number; base: number; perChunk: number[] }[] = [];
  for (let rep = 0; rep < 5; rep++) {
    stft.reset();
    const r = timeChunks(x, chunk, (c) => stft.push(c, onFrame));
    const fresh = new RecomputeStft(nFft, hop, x.length, 'window');
    const b = timeChunks(x, chunk, (c) => fresh.push(c)).total;
    sink += fresh.sink;
    rounds.push({ stream: r.total, base: b, perChunk: r.perChunk });
  }
  rounds.sort((a, b) => a.base / a.stream - b.base / b.stream);
  const mid = rounds[Math.floor(rounds.length / 2)];
  const best = mid.stream;
  const perChunk = mid.perChunk;
  const streamPerHop = best / hops;
  const winPerHop = mid.base / hops;

  // Whole-buffer recompute costs O(buffer) per hop (O(n^2) overall): run it on a growing
  // buffer until ~2 s have gone by, then compare its per-hop cost at the buffer length reached
  // with the streaming per-hop cost (which does not depend on buffer length).
  const buf = new RecomputeStft(nFft, hop, x.length, 'buffer');
  const budgetMs = 2000;
  const startAll = performance.now();
  const recent: number[] = [];
  let fed = 0;
  while (fed < x.length && performance.now() - startAll < budgetMs) {
    const c = x.subarray(fed, Math.min(x.length, fed + chunk));
    const last = buf.push(c);
    fed += c.length;
    if (last > 0) {
      recent.push(last);
      if (recent.length > 20) recent.shift();
    }
  }
  const bufPerHop = recent.reduce((a, b) => a + b, 0) / recent.length;
  const bufFrames = Math.floor(fed / hop);
  sink += win.sink + buf.sink;
  benchSink += sink;

  const p50 = quantile(perChunk, 0.5);
  const p99 = quantile(perChunk, 0.99);
  return [
    {
      name: 'STFT 1024/256 streaming vs window recompute',
      value: `${fmtUs(streamPerHop)}/hop`,
      baseline: `${fmtUs(winPerHop)}/hop`,
      ratio: fmtRatio(winPerHop / streamPerHop),
      bound: `N/H = ${nFft / hop}`,
      notes:
        `30 s of 16 kHz noise in 20 ms chunks, after warm-up; round with the median ratio of 5 (streaming and baseline alternated); RTF ${(best / 30000).toExponential(2)}; ` +
        `per-chunk p50 ${fmtUs(p50)}, p99 ${fmtUs(p99)}. Baseline: at every hop, the offline STFT of the latest ` +
        `${nFft}-sample window (left-padded like stftOffline, so N/H = ${nFft / hop} frames, only the last one new), same FFT, no allocation; ` +
        `it can land a little above N/H because it also re-copies the window each hop. ` +
        `Whole-buffer recompute (all frames so far, every hop; capped at ~2 s of run time): at a ${(fed / rate).toFixed(1)} s buffer ` +
        `(${bufFrames} frames) it costs ${fmtUs(bufPerHop)}/hop = ${fmtRatio(bufPerHop / streamPerHop)} streaming, growing linearly with the buffer ` +
        `(~${hops}x projected at 30 s). Peak RSS ${peakRssMb()}.`,
    },
  ];
}

/** Direct-form FIR at the input rate, then keep every down-th sample: what polyphase avoids (for up = 1 it only wastes the dropped outputs). */
function naiveDecimate(x: Float32Array, h: Float32Array, down: number, full: Float32Array, out: Float32Array): number {
  let count = 0;
  directFir(x, h, full);
  for (let t = 0; t < x.length; t += down) out[count++] = full[t];
  return count;
}

function benchResampler(): BenchRow {
  const from = 48000;
  const to = 16000;
  const seconds = 60;
  const chunk = from / 50;
  const x = randomSignal(seconds * from, rng(2));
  const r = new Resampler({ fromRate: from, toRate: to });
  let sink = 0;
  timeChunks(x.subarray(0, 5 * from), chunk, (c) => {
    sink += r.push(c).length;
  });
  const naiveSeconds = 10;
  const xs = x.subarray(0, naiveSeconds * from);
  const out = new Float32Array(xs.length);
  const full = new Float32Array(xs.length);
  naiveDecimate(xs.subarray(0, from), r.filter, r.down, full, out);
  // Alternated rounds, median ratio (see benchStft).
  const rounds: { poly: number; naive: number; perChunk: number[] }[] = [];
  for (let rep = 0; rep < 3; rep++) {
    r.reset();
    const res = timeChunks(x, chunk, (c) => {
      sink += r.push(c).length;
    });
    const t0 = performance.now();
    sink += naiveDecimate(xs, r.filter, r.down, full, out);
    const naive = performance.now() - t0;
    rounds.push({ poly: res.total, naive, perChunk: res.perChunk });
  }
  const speed = (q: (typeof rounds)[number]): number => x.length / q.poly / (xs.length / q.naive);
  rounds.sort((a, b) => speed(a) - speed(b));
  const mid = rounds[1];
  const best = mid.poly;
  const perChunk = mid.perChunk;
  const rate = x.length / (best / 1000);
  const naiveRate = xs.length / (mid.naive / 1000);
  benchSink += sink;

  return {
    name: 'Resample 48k->16k polyphase vs full-rate FIR + decimate',
    value: `${(rate / 1e6).toFixed(1)} Msamples/s`,
    baseline: `${(naiveRate / 1e6).toFixed(1)} Msamples/s`,
    ratio: fmtRatio(rate / naiveRate),
    bound: `up*down = ${r.up * r.down}`,
    notes:
      `${seconds} s of 48 kHz noise in 20 ms chunks, after warm-up; round with the median ratio of 3 (alternated with the baseline): RTF ${(best / 1000 / seconds).toExponential(2)} ` +
      `(${(seconds * 1000 / best).toFixed(0)}x real time), per-chunk p50 ${fmtUs(quantile(perChunk, 0.5))}, p99 ${fmtUs(quantile(perChunk, 0.99))}; ` +
      `${r.filter.length}-tap Kaiser filter (80 dB), ${Math.ceil(r.filter.length / r.up)} MACs per output, delay ${r.delay.toFixed(2)} output samples. ` +
      `Baseline (input samples/s, on ${naiveSeconds} s): the same filter run at 48 kHz, every 3rd output kept, same unrolled inner loop. ` +
      `Peak RSS ${peakRssMb()}.`,
  };
}

export async function benchKernels(): Promise<BenchRow[]> {
  return [...benchStft(), benchResampler()];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchKernels().then((rows) => {
    for (const row of rows) console.log(row);
  });
}
