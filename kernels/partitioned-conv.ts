/**
 * Uniformly partitioned overlap-save FFT convolution: latency one block (B samples) whatever
 * the filter length L, at O(log B + L/B) work per sample instead of O(L).
 *
 * The filter is cut into P = ceil(L / B) partitions of B taps, each zero-padded to 2B and
 * transformed once. Input arrives in blocks of B; each block is transformed together with the
 * block before it (a 2B frame, overlap-save) and its spectrum enters a frequency-domain delay
 * line (FDL) that keeps the last P frame spectra. Output block k is
 *   IFFT( sum_p X[k - p] * H[p] ), last B samples
 * (the first B are circularly aliased and dropped). Partition p meets the frame that is p blocks
 * old, which is exactly the input the taps [pB, pB + B) reach back to, so the sum is the linear
 * convolution of the input with the whole filter for the B samples of block k.
 *
 * Timing: output block k is known once input block k is complete. The streaming class returns
 * one output sample per input sample, delayed by exactly B (the first B samples are zeros), so
 * a chunk of n samples in gives n samples out and `latency` is B. flush() returns the rest of
 * the full convolution (B + L - 1 samples), so pushes + flush = B zeros followed by
 * convolveOffline(x, h).
 *
 * The pieces are exported separately because a binaural renderer runs one delay line (one
 * forward FFT per block) against several filters (two ears, old and new filters while it
 * crossfades): PartitionPlan (sizes, FFT, filter spectra, accumulation), FrequencyDelayLine
 * (input side), PartitionedConvolver (one input, one filter: the kernel with the contract).
 */
import { OutputBuffer } from './output-buffer.js';
import { RealFft } from './fft.js';

export interface PartitionedConvOptions {
  /** Block size B (power of two >= 4): the latency, in samples. */
  blockSize: number;
  /** Longest filter the plan accepts, in taps (>= 1). */
  maxFilterLength: number;
}

/** Sizes, the 2B-point FFT and scratch shared by a delay line and the filters run against it. */
export class PartitionPlan {
  readonly blockSize: number;
  readonly partitions: number;
  readonly maxFilterLength: number;
  /** Floats per spectrum: B + 1 complex bins, interleaved re, im. */
  readonly spectrumSize: number;
  readonly fft: RealFft;
  private readonly time: Float32Array;
  /** Where each partition's input spectrum starts in the delay line, refreshed per accumulation. */
  private readonly slotOffsets: Int32Array;

  constructor(o: PartitionedConvOptions) {
    const b = o.blockSize;
    if (!Number.isInteger(b) || b < 4 || (b & (b - 1)) !== 0) throw new Error(`PartitionPlan: blockSize must be a power of two >= 4, got ${b}`);
    if (!Number.isInteger(o.maxFilterLength) || o.maxFilterLength < 1) {
      throw new Error(`PartitionPlan: maxFilterLength must be a positive integer, got ${o.maxFilterLength}`);
    }
    this.blockSize = b;
    this.maxFilterLength = o.maxFilterLength;
    this.partitions = Math.ceil(o.maxFilterLength / b);
    this.spectrumSize = 2 * b + 2;
    this.fft = new RealFft(2 * b);
    this.time = new Float32Array(2 * b);
    this.slotOffsets = new Int32Array(this.partitions);
  }

  /** Storage for one filter's partition spectra (all zero: a filter that outputs silence). */
  newFilter(): Float32Array {
    return new Float32Array(this.partitions * this.spectrumSize);
  }

  /** Writes the partition spectra of gain * h into `filter` (h shorter than maxFilterLength is zero-extended). */
  setFilter(filter: Float32Array, h: Float32Array, gain = 1): void {
    if (h.length > this.maxFilterLength) throw new Error(`PartitionPlan.setFilter: filter has ${h.length} taps, plan holds at most ${this.maxFilterLength}`);
    const b = this.blockSize;
    const t = this.time;
    for (let p = 0; p < this.partitions; p++) {
      const from = p * b;
      const n = Math.max(0, Math.min(b, h.length - from));
      for (let i = 0; i < n; i++) t[i] = h[from + i] * gain;
      t.fill(0, n);
      this.fft.forward(t, filter.subarray(p * this.spectrumSize, (p + 1) * this.spectrumSize));
    }
  }

  /** out = sum_p X[newest - p] * H[p] (complex products over B + 1 bins). */
  accumulate(fdl: FrequencyDelayLine, filter: Float32Array, out: Float32Array): void {
    this.accumulatePair(fdl, filter, out, filter, out);
  }

  /**
   * accumulate() for two filters against the same delay line (the two ears) in one pass: each
   * input spectrum value is read once, and sums are kept in locals bin by bin, so the float32
   * outputs are written once instead of read and rewritten P times. With b === a (and outB ===
   * outA) it computes one filter.
   */
  accumulatePair(fdl: FrequencyDelayLine, a: Float32Array, outA: Float32Array, b: Float32Array, outB: Float32Array): void {
    const s = this.spectrumSize;
    const parts = this.partitions;
    const x = fdl.spectra;
    const xo = this.slotOffsets;
    let slot = fdl.newest;
    for (let p = 0; p < parts; p++) {
      xo[p] = slot * s;
      slot = slot === 0 ? parts - 1 : slot - 1;
    }
    for (let k = 0; k < s; k += 2) {
      let ar = 0, ai = 0, br = 0, bi = 0;
      for (let p = 0, ho = k; p < parts; p++, ho += s) {
        const xi0 = xo[p] + k;
        const xr = x[xi0], xi = x[xi0 + 1];
        const hr = a[ho], hi = a[ho + 1];
        ar += xr * hr - xi * hi;
        ai += xr * hi + xi * hr;
        const gr = b[ho], gi = b[ho + 1];
        br += xr * gr - xi * gi;
        bi += xr * gi + xi * gr;
      }
      outA[k] = ar;
      outA[k + 1] = ai;
      outB[k] = br;
      outB[k + 1] = bi;
    }
  }

  /** The B valid (non-aliased) output samples of an accumulated spectrum, into out[0, B). */
  inverse(spectrum: Float32Array, out: Float32Array): void {
    const b = this.blockSize;
    this.fft.inverse(spectrum, this.time);
    for (let i = 0; i < b; i++) out[i] = this.time[b + i];
  }
}

/** Input side: the 2B overlap-save frame and the ring of the last P frame spectra. */
export class FrequencyDelayLine {
  readonly spectra: Float32Array;
  /** Slot of the newest spectrum. */
  newest: number;
  private readonly frame: Float32Array;

  constructor(private readonly plan: PartitionPlan) {
    this.spectra = new Float32Array(plan.partitions * plan.spectrumSize);
    this.frame = new Float32Array(2 * plan.blockSize);
    this.newest = plan.partitions - 1;
  }

  /** Adds one block of B input samples (block[from, from + B)). */
  pushBlock(block: Float32Array, from = 0): void {
    const b = this.plan.blockSize;
    const f = this.frame;
    f.copyWithin(0, b);
    for (let i = 0; i < b; i++) f[b + i] = block[from + i];
    this.newest = this.newest + 1 === this.plan.partitions ? 0 : this.newest + 1;
    const s = this.plan.spectrumSize;
    this.plan.fft.forward(f, this.spectra.subarray(this.newest * s, (this.newest + 1) * s));
  }

  reset(): void {
    this.spectra.fill(0);
    this.frame.fill(0);
    this.newest = this.plan.partitions - 1;
  }
}

/** One input convolved with one filter; see the file comment for timing. */
export class PartitionedConvolver {
  readonly latency: number;
  readonly filterLength: number;
  private readonly plan: PartitionPlan;
  private readonly fdl: FrequencyDelayLine;
  private readonly filter: Float32Array;
  private readonly spectrum: Float32Array;
  /** Input samples of the block being filled, and the previous block's output, emitted meanwhile. */
  private readonly block: Float32Array;
  private readonly ready: Float32Array;
  private fill = 0;
  private readonly tail: Float32Array;
  private readonly out: OutputBuffer;

  constructor(h: Float32Array, blockSize: number) {
    if (h.length < 1) throw new Error('PartitionedConvolver: the filter needs at least one tap');
    this.plan = new PartitionPlan({ blockSize, maxFilterLength: h.length });
    this.latency = blockSize;
    this.filterLength = h.length;
    this.fdl = new FrequencyDelayLine(this.plan);
    this.filter = this.plan.newFilter();
    this.plan.setFilter(this.filter, h);
    this.spectrum = new Float32Array(this.plan.spectrumSize);
    this.block = new Float32Array(blockSize);
    this.ready = new Float32Array(blockSize);
    this.tail = new Float32Array(blockSize + h.length - 1);
    this.out = new OutputBuffer(4096);
  }

  /** n samples in, n samples out (the convolution delayed by B); the result is reused by the next call. */
  push(input: Float32Array): Float32Array {
    const n = input.length;
    const out = this.out.ensure(n);
    const b = this.latency;
    let i = 0;
    while (i < n) {
      const m = Math.min(b - this.fill, n - i);
      for (let j = 0; j < m; j++) {
        this.block[this.fill + j] = input[i + j];
        out[i + j] = this.ready[this.fill + j];
      }
      this.fill += m;
      i += m;
      if (this.fill === b) {
        this.fdl.pushBlock(this.block);
        this.plan.accumulate(this.fdl, this.filter, this.spectrum);
        this.plan.inverse(this.spectrum, this.ready);
        this.fill = 0;
      }
    }
    return this.out.view(n);
  }

  /** Ends the stream: the last B + L - 1 samples of the convolution (input taken as zero from here), then resets. */
  flush(): Float32Array {
    this.tail.fill(0);
    const rest = this.push(this.tail);
    const result = rest.slice();
    this.reset();
    return result;
  }

  reset(): void {
    this.fdl.reset();
    this.block.fill(0);
    this.ready.fill(0);
    this.fill = 0;
  }

}

/** Direct linear convolution in float64: length x.length + h.length - 1 (0 for an empty x). */
export function convolveOffline(x: Float32Array, h: Float32Array): Float32Array {
  if (x.length === 0 || h.length === 0) return new Float32Array(0);
  const y = new Float32Array(x.length + h.length - 1);
  for (let t = 0; t < y.length; t++) {
    let acc = 0;
    const iMin = Math.max(0, t - x.length + 1);
    const iMax = Math.min(h.length - 1, t);
    for (let i = iMin; i <= iMax; i++) acc += h[i] * x[t - i];
    y[t] = acc;
  }
  return y;
}
