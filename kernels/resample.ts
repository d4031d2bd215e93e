/**
 * Rational resampling by up/down = toRate/fromRate (reduced by their gcd), as
 * upsample-by-zero-insertion -> low-pass h -> keep every down-th sample, computed polyphase:
 * output j is sum_m h[p + m*up] * x[i - m] with i = floor(j*down/up) and p = j*down mod up,
 * so the inserted zeros are never multiplied and the dropped samples never computed.
 *
 * Filter: Kaiser-windowed sinc at the upsampled rate, odd length N, DC gain `up`. Its stop
 * band starts AT the lower of the two Nyquist frequencies and the pass band ends `transition`
 * (relative, default 0.1) below it, so nothing above the new Nyquist aliases back by more than
 * -stopbandDb, at the cost of the top 10% of the band.
 *
 * Timing: output j depends on inputs up to time j/toRate only (causal, no look-ahead), so the
 * one delay is the filter's: (N - 1) / 2 upsampled samples = `delay` = (N - 1) / (2 * down)
 * output samples, an integer because N - 1 is rounded up to a multiple of 2 * down. Input sample i appears centred on output index (i*up + (N - 1)/2) / down.
 *
 * Lengths: after n inputs the pushes have returned ceil(n*up/down) samples (every output whose
 * newest input has arrived); flush() returns the rest of the full convolution, as if zeros
 * followed, for a total of ceil(((n - 1)*up + N) / down) = upfirdn(x, filter, up, down).length.
 */
import { OutputBuffer } from './output-buffer.js';
import { kaiserBeta, kaiserLength, kaiserLowpass } from './kaiser.js';
import { WasmFir } from './wasm/fir.js';

export interface ResamplerOptions {
  fromRate: number;
  toRate: number;
  /** Stop-band attenuation in dB; default 80. */
  stopbandDb?: number;
  /** Transition width as a fraction of the lower Nyquist frequency, in (0, 1); default 0.1. */
  transition?: number;
  /**
   * Which loop computes the dot products: 'wasm' (default), WebAssembly SIMD, float32 sums, 5-8x
   * faster; 'js', the plain JavaScript loop, float64 sums (the reference the benchmark compares).
   * Outputs agree to ~1e-6 of full scale.
   */
  engine?: 'wasm' | 'js';
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

interface Design {
  up: number;
  down: number;
  filter: Float32Array;
}

function design(o: ResamplerOptions): Design {
  const { fromRate, toRate } = o;
  for (const [k, v] of [['fromRate', fromRate], ['toRate', toRate]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`Resampler: ${k} must be a positive integer (Hz), got ${v}`);
  }
  const stopbandDb = o.stopbandDb ?? 80;
  const transition = o.transition ?? 0.1;
  if (!(stopbandDb > 0)) throw new Error(`Resampler: stopbandDb must be positive, got ${stopbandDb}`);
  if (!(transition > 0 && transition < 1)) throw new Error(`Resampler: transition must be in (0, 1), got ${transition}`);
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  if (up === 1 && down === 1) return { up, down, filter: Float32Array.of(1) };
  const upRate = fromRate * up;
  const nyquist = Math.min(fromRate, toRate) / 2;
  const width = (transition * nyquist) / upRate;
  const cutoff = ((1 - transition / 2) * nyquist) / upRate;
  // Never shorter than one tap per phase, or the pushes could return more samples than the full convolution has.
  const minTaps = Math.max(kaiserLength(stopbandDb, width), up % 2 === 1 ? up : up + 1);
  // Round up so (N - 1) / 2 is a whole number of output periods: the delay is then an integer
  // number of output samples and callers can re-align the output exactly (no half-sample skew).
  const taps = 2 * down * Math.ceil((minTaps - 1) / (2 * down)) + 1;
  const h = kaiserLowpass(taps, cutoff, kaiserBeta(stopbandDb), up);
  return { up, down, filter: Float32Array.from(h) };
}

export class Resampler {
  readonly up: number;
  readonly down: number;
  readonly filter: Float32Array;
  readonly delay: number;
  private readonly identity: boolean;
  /** Taps per phase, and the phases laid out reversed (phase p at [p*taps, (p+1)*taps)) so each output is a forward dot product over contiguous history. */
  private readonly taps: number;
  private readonly phases: Float32Array;
  private readonly stepWhole: number;
  private readonly stepFrac: number;
  /** taps - 1 samples of history, then the current chunk (inside the WebAssembly memory when `fir` is set). */
  private buf: Float32Array;
  private readonly out: OutputBuffer;
  private readonly fir: WasmFir | undefined;
  /** The loop in use: the one asked for, or 'js' when the WebAssembly one could not start (`engineFallback` says why). */
  readonly engine: 'wasm' | 'js';
  readonly engineFallback: string | undefined;
  /** Phase of the next output, and the index of its newest input relative to the first not yet consumed. */
  private phase = 0;
  private ahead = 0;
  private consumed = 0;
  private produced = 0;

  constructor(o: ResamplerOptions) {
    const d = design(o);
    this.up = d.up;
    this.down = d.down;
    this.filter = d.filter;
    this.identity = d.up === 1 && d.down === 1;
    const n = d.filter.length;
    this.delay = (n - 1) / (2 * d.down);
    this.taps = Math.ceil(n / d.up);
    this.phases = new Float32Array(d.up * this.taps);
    for (let p = 0; p < d.up; p++) {
      for (let m = 0; m < this.taps; m++) {
        const k = p + m * d.up;
        this.phases[p * this.taps + this.taps - 1 - m] = k < n ? d.filter[k] : 0;
      }
    }
    this.stepWhole = Math.floor(d.down / d.up);
    this.stepFrac = d.down % d.up;
    const outLength = Math.ceil((4096 * d.up) / d.down) + 1;
    if (o.engine !== undefined && o.engine !== 'wasm' && o.engine !== 'js') throw new Error(`Resampler: engine must be 'wasm' or 'js', got ${String(o.engine)}`);
    let fir: WasmFir | undefined;
    let fallback: string | undefined;
    if ((o.engine ?? 'wasm') === 'wasm' && !this.identity) {
      try {
        fir = new WasmFir(this.phases, this.taps, d.up, this.stepWhole, this.stepFrac, this.taps - 1 + 4096, outLength);
      } catch (e) {
        // No WebAssembly (node --jitless), or no address space for another memory (after some
        // thousands of live instances, fewer under ulimit -v): the same maths, 10x slower.
        fallback = (e as Error).message;
      }
    }
    this.fir = fir;
    this.engine = fir !== undefined || ((o.engine ?? 'wasm') === 'wasm' && this.identity) ? 'wasm' : 'js';
    this.engineFallback = fallback;
    this.buf = this.fir ? this.fir.buf : new Float32Array(this.taps - 1 + 4096);
    this.out = new OutputBuffer(this.fir ? 1 : outLength);
  }

  /** Resamples one chunk (any length, 0 included); the returned array is reused by the next call. */
  push(input: Float32Array): Float32Array {
    const c = input.length;
    if (this.identity) {
      this.ensureOut(c);
      this.out.data.set(input);
      this.consumed += c;
      this.produced += c;
      return this.out.view(c);
    }
    this.ensureBuf(c);
    this.buf.set(input, this.taps - 1);
    return this.outView(this.run(c, Infinity));
  }

  /** Ends the stream: returns the filter tail (inputs taken as zero from here on), then resets. */
  flush(): Float32Array {
    let count = 0;
    if (!this.identity && this.consumed > 0) {
      const total = Math.ceil(((this.consumed - 1) * this.up + this.filter.length) / this.down);
      const left = total - this.produced;
      const newestNeeded = Math.floor(((total - 1) * this.down) / this.up);
      const zeros = Math.max(0, newestNeeded - (this.consumed - 1));
      this.ensureBuf(zeros);
      this.buf.fill(0, this.taps - 1, this.taps - 1 + zeros);
      count = this.run(zeros, left);
    }
    const result = this.identity ? this.out.view(count) : this.outView(count);
    this.reset();
    return result;
  }

  reset(): void {
    this.buf.fill(0);
    this.phase = 0;
    this.ahead = 0;
    this.consumed = 0;
    this.produced = 0;
  }

  /** Produces the outputs whose newest input lies in the c samples just placed after the history (at most `limit`), then keeps the last taps - 1 samples as history. */
  private run(c: number, limit: number): number {
    this.ensureOut(Math.ceil((c * this.up) / this.down) + 1);
    if (this.fir) return this.runWasm(this.fir, c, limit);
    const buf = this.buf;
    const out = this.out.data;
    const ph = this.phases;
    const taps = this.taps;
    const up = this.up;
    const stepWhole = this.stepWhole;
    const stepFrac = this.stepFrac;
    let p = this.phase;
    let r = this.ahead;
    let count = 0;
    while (r < c && count < limit) {
      out[count++] = dot(ph, p * taps, buf, r, taps);
      p += stepFrac;
      r += stepWhole;
      if (p >= up) {
        p -= up;
        r++;
      }
    }
    this.phase = p;
    this.ahead = r - c;
    this.consumed += c;
    this.produced += count;
    buf.copyWithin(0, c, c + taps - 1);
    return count;
  }

  private runWasm(fir: WasmFir, c: number, limit: number): number {
    const count = fir.run(c, limit, this.phase, this.ahead);
    this.phase = fir.p;
    this.ahead = fir.r - c;
    this.consumed += c;
    this.produced += count;
    this.buf.copyWithin(0, c, c + this.taps - 1);
    return count;
  }

  private outView(n: number): Float32Array {
    return this.fir ? this.fir.view(n) : this.out.view(n);
  }

  private ensureBuf(c: number): void {
    if (this.fir) {
      this.fir.reserve(this.taps - 1 + c, 0);
      this.buf = this.fir.buf;
      return;
    }
    if (this.buf.length < this.taps - 1 + c) {
      const grown = new Float32Array(this.taps - 1 + c);
      grown.set(this.buf.subarray(0, this.taps - 1));
      this.buf = grown;
    }
  }

  private ensureOut(n: number): void {
    if (this.fir) {
      this.fir.reserve(0, n);
      this.buf = this.fir.buf;
    } else {
      this.out.ensure(n);
    }
  }

}

/** sum_t a[ai + t] * b[bi + t] for t < n; four partial sums break the add dependency chain so the loop is not latency-bound. */
function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let t = 0;
  for (; t + 3 < n; t += 4) {
    s0 += a[ai + t] * b[bi + t];
    s1 += a[ai + t + 1] * b[bi + t + 1];
    s2 += a[ai + t + 2] * b[bi + t + 2];
    s3 += a[ai + t + 3] * b[bi + t + 3];
  }
  for (; t < n; t++) s0 += a[ai + t] * b[bi + t];
  return s0 + s1 + s2 + s3;
}

/**
 * Plain upsample -> FIR -> downsample, written as the direct sum over input samples
 * y[j] = sum_i x[i] * h[j*down - i*up] (the zero-inserted samples contribute nothing), float64
 * accumulation; length ceil(((n - 1)*up + h.length) / down), 0 for empty x.
 */
export function upfirdn(x: Float32Array, h: Float32Array, up: number, down: number): Float32Array {
  const n = x.length;
  if (n === 0) return new Float32Array(0);
  const len = Math.ceil(((n - 1) * up + h.length) / down);
  const y = new Float32Array(len);
  for (let j = 0; j < len; j++) {
    const t = j * down;
    const iMin = Math.max(0, Math.ceil((t - h.length + 1) / up));
    const iMax = Math.min(n - 1, Math.floor(t / up));
    let acc = 0;
    for (let i = iMin; i <= iMax; i++) acc += x[i] * h[t - i * up];
    y[j] = acc;
  }
  return y;
}

/** The delay, in output samples, of the Resampler these options make (without making one). */
export function resamplerDelay(o: ResamplerOptions): number {
  const d = design(o);
  return (d.filter.length - 1) / (2 * d.down);
}

/** upfirdn with the filter Resampler designs for the same options. */
export function resampleOffline(x: Float32Array, o: ResamplerOptions): Float32Array {
  const d = design(o);
  return upfirdn(x, d.filter, d.up, d.down);
}
