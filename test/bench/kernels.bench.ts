/**
 * Kernel benchmarks: each streaming kernel beside the obvious implementation of the same maths, measured in the same run.
 * Absolute times are noisy on shared machines; the ratios are the figures to read.
 */
import { pathToFileURL } from 'node:url';
import { RealFft } from '../../kernels/fft.js';
import { Resampler, upfirdn } from '../../kernels/resample.js';
import { StreamingStft } from '../../kernels/stft.js';
import { makeWindow } from '../../kernels/window.js';
import { randomSignal, rng } from '../helpers-random.js';
import { decimatingFir } from './direct-fir.js';
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
 * The obvious offline STFT (the maths of stftOffline, without its per-frame allocation, so the
 * ratio counts work, not GC): left-pad, then frame, window and one FFT per hop over the whole signal.
 */
class OfflineStft {
  private readonly fft: RealFft;
  private readonly w: Float32Array;
  private readonly frame: Float32Array;
  private readonly spec: Float32Array;
  private readonly padded: Float32Array;
  sink = 0;

  constructor(private readonly nFft: number, private readonly hop: number, length: number) {
    this.fft = new RealFft(nFft);
    this.w = makeWindow('hann', nFft);
    this.frame = new Float32Array(nFft);
    this.spec = new Float32Array(nFft + 2);
    this.padded = new Float32Array(nFft - hop + length);
  }

  /** Returns the number of frames. */
  run(x: Float32Array): number {
    const { nFft, hop, padded, frame, w } = this;
    padded.set(x, nFft - hop);
    let frames = 0;
    for (let s = 0; s + nFft <= padded.length; s += hop) {
      for (let i = 0; i < nFft; i++) frame[i] = padded[s + i] * w[i];
      this.fft.forward(frame, this.spec);
      this.sink += this.spec[2];
      frames++;
    }
    return frames;
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

  // Streaming and offline runs alternate and the ratio is the median of per-round ratios, so
  // both sides see the same machine load (this host is shared; absolute times drift).
  const stft = new StreamingStft({ nFft, hop });
  const offline = new OfflineStft(nFft, hop, x.length);
  timeChunks(x.subarray(0, 5 * rate), chunk, (c) => stft.push(c, onFrame));
  offline.run(x.subarray(0, 5 * rate));
  const rounds: { stream: number; base: number; perChunk: number[] }[] = [];
  for (let rep = 0; rep < 5; rep++) {
    stft.reset();
    const r = timeChunks(x, chunk, (c) => stft.push(c, onFrame));
    const t0 = performance.now();
    const frames = offline.run(x);
    const base = performance.now() - t0;
    if (frames !== hops) throw new Error(`offline STFT made ${frames} frames, expected ${hops}`);
    rounds.push({ stream: r.total, base, perChunk: r.perChunk });
  }
  rounds.sort((a, b) => a.base / a.stream - b.base / b.stream);
  const mid = rounds[Math.floor(rounds.length / 2)];
  const streamPerHop = mid.stream / hops;
  const offlinePerHop = mid.base / hops;
  benchSink += sink + offline.sink;

  return [
    {
      name: 'STFT 1024/256 streaming (20 ms chunks) vs offline (whole signal)',
      value: `${fmtUs(streamPerHop)}/hop`,
      baseline: `${fmtUs(offlinePerHop)}/hop`,
      ratio: fmtRatio(offlinePerHop / streamPerHop),
      bound: '1 (same FFTs)',
      notes:
        `30 s of 16 kHz noise, after warm-up; round with the median ratio of 5 (streaming and offline alternated); RTF ${(mid.stream / 30000).toExponential(2)}; ` +
        `per-chunk p50 ${fmtUs(quantile(mid.perChunk, 0.5))}, p99 ${fmtUs(quantile(mid.perChunk, 0.99))}. Baseline: the obvious offline STFT ` +
        `(left-pad, then frame, window and one FFT per hop over the whole 30 s at once; same FFT and window, no allocation). Both compute exactly ` +
        `one ${nFft}-point FFT per hop, so streaming cannot beat it: the ratio is streaming's overhead (frame assembly across chunk edges, a ` +
        `call per frame), and what it buys is each frame as soon as its last sample has arrived instead of after the whole signal. Peak RSS ${peakRssMb()}.`,
    },
  ];
}

/** Alternated rounds of ours and a baseline; the round with the median ratio (see benchStft). */
function medianRound(rounds: number, ours: () => { ms: number; perChunk: number[] }, base: () => number): { ours: number; base: number; perChunk: number[] } {
  const rs: { ours: number; base: number; perChunk: number[] }[] = [];
  for (let i = 0; i < rounds; i++) {
    const o = ours();
    rs.push({ ours: o.ms, base: base(), perChunk: o.perChunk });
  }
  rs.sort((a, b) => a.base / a.ours - b.base / b.ours);
  return rs[Math.floor(rs.length / 2)];
}

const same = (diff: number): string => (diff === 0 ? 'identical to ours' : `equal to ours within ${diff.toExponential(1)}`);

/** Largest |a[i] - b[i]| over the first n samples: both sides must compute the same outputs. */
function maxDiff(a: Float32Array, b: Float32Array, n: number): number {
  let d = 0;
  for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Our resampler over x in 20 ms chunks: ms, sorted per-chunk ms, and (when `keep` is given) the outputs copied into it. */
function runResampler(r: Resampler, x: Float32Array, chunk: number, keep?: Float32Array): { ms: number; perChunk: number[]; count: number } {
  r.reset();
  let count = 0;
  const t = timeChunks(x, chunk, (c) => {
    const y = r.push(c);
    if (keep && count < keep.length) keep.set(y.subarray(0, Math.min(y.length, keep.length - count)), count);
    count += y.length;
  });
  return { ms: t.total, perChunk: t.perChunk, count };
}

function resampleNotes(r: Resampler, seconds: number, from: number, mid: { ours: number; perChunk: number[] }): string {
  return (
    `${seconds} s of ${from / 1000} kHz noise in 20 ms chunks, after warm-up; round with the median ratio of 3 (alternated with the baseline): ` +
    `RTF ${(mid.ours / 1000 / seconds).toExponential(2)}, per-chunk p50 ${fmtUs(quantile(mid.perChunk, 0.5))}, p99 ${fmtUs(quantile(mid.perChunk, 0.99))}; ` +
    `the same ${r.filter.length}-tap Kaiser filter (80 dB) on both sides, ${Math.ceil(r.filter.length / r.up)} MACs per output here, delay ${r.delay} output samples`
  );
}

/** 48 -> 16 kHz (up = 1): polyphase is then a decimating FIR, so the honest baseline is one too. */
function benchResampler48(): BenchRow {
  const from = 48000;
  const seconds = 30;
  const chunk = from / 50;
  const x = randomSignal(seconds * from, rng(2));
  const r = new Resampler({ fromRate: from, toRate: 16000 });
  const ours = new Float32Array(Math.ceil(x.length / r.down));
  const base = new Float32Array(ours.length);
  runResampler(r, x.subarray(0, 5 * from), chunk);
  decimatingFir(x.subarray(0, from), r.filter, r.down, base);
  let count = 0;
  const mid = medianRound(
    3,
    () => {
      const o = runResampler(r, x, chunk, ours);
      count = o.count;
      return o;
    },
    () => {
      const t0 = performance.now();
      decimatingFir(x, r.filter, r.down, base);
      return performance.now() - t0;
    },
  );
  const diff = maxDiff(ours, base, count);
  if (!(diff < 1e-4)) throw new Error(`resampler and decimating FIR differ by ${diff}`);
  const msps = (ms: number) => `${(x.length / 1e3 / ms).toFixed(1)} Msamples/s`;
  return {
    name: 'Resample 48k->16k polyphase (WASM SIMD) vs decimating FIR (JS)',
    value: msps(mid.ours),
    baseline: msps(mid.base),
    ratio: fmtRatio(mid.base / mid.ours),
    bound: '1 (same MACs), x SIMD',
    notes:
      `${resampleNotes(r, seconds, from, mid)}. Baseline (input samples/s): a direct-form FIR over the whole signal that computes only every ` +
      `${r.down}rd output (the ones kept), same 4-way unrolled inner loop; outputs ${same(diff)}. With up = 1 the ` +
      `polyphase form is that same decimating FIR: the ratio is the WebAssembly SIMD loop (8 lanes, float32 sums; the resampler's default engine) against ` +
      `plain JavaScript, less the streaming overhead (history copies at chunk edges). Peak RSS ${peakRssMb()}.`,
  };
}

/**
 * 44.1 -> 16 kHz (up 160, down 441): against the textbook structure, upsample by zero insertion,
 * low-pass at the upsampled rate and decimate, computing only the kept outputs (it still
 * multiplies the inserted zeros, which is what polyphase avoids: bound N / ceil(N / up)).
 * The zero-skipping direct sum (kernels' upfirdn, the resampler's offline reference) does the
 * same multiplies as polyphase and is timed for the notes.
 */
function benchResampler44(): BenchRow {
  const from = 44100;
  const seconds = 20;
  const baseSeconds = 1;
  const chunk = from / 50;
  const x = randomSignal(seconds * from, rng(3));
  // The JS loop on both sides, so the ratio is the polyphase structure's alone (the 48k row shows the SIMD loop).
  const r = new Resampler({ fromRate: from, toRate: 16000, engine: 'js' });
  const xs = x.subarray(0, baseSeconds * from);
  const stuffed = new Float32Array(xs.length * r.up);
  const base = new Float32Array(Math.ceil(stuffed.length / r.down));
  const ours = new Float32Array(base.length);
  runResampler(r, x.subarray(0, 2 * from), chunk);
  let count = 0;
  const mid = medianRound(
    3,
    () => {
      const o = runResampler(r, x, chunk, ours);
      count = o.count;
      return o;
    },
    () => {
      const t0 = performance.now();
      stuffed.fill(0);
      for (let i = 0; i < xs.length; i++) stuffed[i * r.up] = xs[i];
      decimatingFir(stuffed, r.filter, r.down, base);
      return performance.now() - t0;
    },
  );
  const n = Math.min(count, base.length);
  const diff = maxDiff(ours, base, n);
  if (!(diff < 1e-3)) throw new Error(`resampler and upsample-filter-decimate differ by ${diff}`);
  const t0 = performance.now();
  const ref = upfirdn(xs, r.filter, r.up, r.down);
  const refMs = performance.now() - t0;
  benchSink += ref[ref.length >> 1];
  const rate = (samples: number, ms: number) => samples / 1e3 / ms;
  const oursRate = rate(x.length, mid.ours);
  const baseRate = rate(xs.length, mid.base);
  const macs = r.filter.length / Math.ceil(r.filter.length / r.up);
  return {
    name: 'Resample 44.1k->16k polyphase vs upsample-filter-decimate (both JS)',
    value: `${oursRate.toFixed(1)} Msamples/s`,
    baseline: `${baseRate.toFixed(3)} Msamples/s`,
    ratio: fmtRatio(oursRate / baseRate),
    bound: `MACs ${macs.toFixed(0)}x`,
    notes:
      `${resampleNotes(r, seconds, from, mid)}. Baseline (input samples/s, on ${baseSeconds} s): zero insertion (x${r.up}), then the same filter ` +
      `at ${(from * r.up / 1e6).toFixed(3)} MHz evaluated only at every ${r.down}th sample (the kept outputs), same unrolled loop: ${r.filter.length} MACs per output, ` +
      `of which all but ~${Math.ceil(r.filter.length / r.up)} multiply an inserted zero; outputs ${same(diff)}. ` +
      `The zero-skipping direct sum y[j] = sum_i x[i] h[j*down - i*up] (kernels' upfirdn, float64 accumulator, the same MACs as polyphase) ` +
      `runs at ${rate(xs.length, refMs).toFixed(1)} Msamples/s (ours: ${fmtRatio(oursRate / rate(xs.length, refMs))} that). Peak RSS ${peakRssMb()}.`,
  };
}

export async function benchKernels(): Promise<BenchRow[]> {
  return [...benchStft(), benchResampler48(), benchResampler44()];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchKernels().then((rows) => {
    for (const row of rows) console.log(row);
  });
}
