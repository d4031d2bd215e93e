/**
 * Short-time Fourier transform and its weighted overlap-add inverse, streaming and offline.
 *
 * Convention (shared by both directions, and by stftOffline/istftOffline): the signal is
 * LEFT-padded with nFft - hop zeros and framed without centring, so frame k covers
 * padded[k*hop, k*hop + nFft) = x[k*hop - (nFft - hop), (k + 1)*hop). Frame k thus ends on
 * the last sample of hop k and can be emitted the moment that sample arrives; no frame ever
 * waits for future input, which is what makes the transform causal.
 *
 * Inverse: y = sum_k w * ifft(X_k) placed at k*hop, divided by the steady-state window power
 * sum_m w[j + m*hop]^2 (a function of j = t mod hop only). Output sample t is final once frame
 * floor(t / hop) has been added, as no later frame reaches back to it; so each spectrum pushed
 * releases one hop and ISTFT(STFT(x)) is x delayed by exactly nFft - hop samples. The first nFft - hop outputs correspond to the zero
 * padding and are scaled as if the frames before frame 0 existed (they would have been zero).
 */
import { RealFft } from './fft.js';
import { Rechunker } from './rechunker.js';
import { makeWindow, type WindowKind } from './window.js';

export interface StftOptions {
  nFft: number;
  hop: number;
  /** Default 'hann'. */
  window?: WindowKind;
}

export type SpectrumSink = (spectrum: Float32Array, frameIndex: number) => void;

function checkOptions(o: StftOptions, who: string): void {
  if (!Number.isInteger(o.nFft) || o.nFft < 4 || (o.nFft & (o.nFft - 1)) !== 0) {
    throw new Error(`${who}: nFft must be a power of two >= 4, got ${o.nFft}`);
  }
  if (!Number.isInteger(o.hop) || o.hop < 1 || o.hop > o.nFft) {
    throw new Error(`${who}: hop must be an integer in [1, nFft=${o.nFft}], got ${o.hop}`);
  }
}

export class StreamingStft {
  readonly nFft: number;
  readonly hop: number;
  readonly bins: number;
  readonly latency: number;
  private readonly window: Float32Array;
  private readonly fft: RealFft;
  private readonly frames: Rechunker;
  private readonly windowed: Float32Array;
  private readonly spectrum: Float32Array;
  private readonly zeros: Float32Array;
  private readonly padding: Float32Array;
  private pushed = 0;
  private sink: SpectrumSink | null = null;
  /** Bound once so pushing does not allocate a closure per chunk. */
  private readonly onFrame = (frame: Float32Array, index: number): void => {
    const n = this.nFft;
    const w = this.window;
    const buf = this.windowed;
    for (let i = 0; i < n; i++) buf[i] = frame[i] * w[i];
    this.fft.forward(buf, this.spectrum);
    (this.sink as SpectrumSink)(this.spectrum, index);
  };

  constructor(o: StftOptions) {
    checkOptions(o, 'StreamingStft');
    this.nFft = o.nFft;
    this.hop = o.hop;
    this.bins = o.nFft / 2 + 1;
    this.latency = o.nFft - o.hop;
    this.window = makeWindow(o.window ?? 'hann', o.nFft);
    this.fft = new RealFft(o.nFft);
    this.frames = new Rechunker(o.nFft, o.hop);
    this.windowed = new Float32Array(o.nFft);
    this.spectrum = new Float32Array(2 * this.bins);
    this.zeros = new Float32Array(Math.max(this.latency, o.hop));
    this.padding = this.zeros.subarray(0, this.latency);
    this.prime();
  }

  push(input: Float32Array, emit: SpectrumSink): void {
    this.pushed += input.length;
    this.sink = emit;
    this.frames.push(input, this.onFrame);
    this.sink = null;
  }

  /**
   * Ends the stream: feeds zeros until every pushed sample lies in all the frames that overlap
   * it (so a downstream StreamingIstft outputs the whole signal), then resets.
   */
  flush(emit: SpectrumSink): void {
    if (this.pushed > 0) {
      const hop = this.hop;
      const padTo = Math.ceil((this.pushed + this.latency) / hop) * hop;
      let left = padTo - this.pushed;
      this.sink = emit;
      while (left > 0) {
        const n = Math.min(left, this.zeros.length);
        this.frames.push(n === this.zeros.length ? this.zeros : this.zeros.subarray(0, n), this.onFrame);
        left -= n;
      }
      this.sink = null;
    }
    this.reset();
  }

  reset(): void {
    this.frames.reset();
    this.pushed = 0;
    this.prime();
  }

  private prime(): void {
    this.frames.push(this.padding, this.onFrame);
  }
}

/** STFT of x left-padded with nFft - hop zeros, frames that fit entirely (see the file comment). */
export function stftOffline(x: Float32Array, o: StftOptions): Float32Array[] {
  checkOptions(o, 'stftOffline');
  const { nFft, hop } = o;
  const pad = nFft - hop;
  const padded = new Float32Array(pad + x.length);
  padded.set(x, pad);
  const w = makeWindow(o.window ?? 'hann', nFft);
  const fft = new RealFft(nFft);
  const frame = new Float32Array(nFft);
  const out: Float32Array[] = [];
  for (let s = 0; s + nFft <= padded.length; s += hop) {
    for (let i = 0; i < nFft; i++) frame[i] = padded[s + i] * w[i];
    const spec = new Float32Array(nFft + 2);
    fft.forward(frame, spec);
    out.push(spec);
  }
  return out;
}

/**
 * 1 / sum_m w[j + m*hop]^2 for j < hop. Throws when the sum nearly vanishes somewhere (NOLA
 * fails): division would then amplify float32 round-off past any useful accuracy. The margin
 * is relative (1e-6 of the largest sum).
 */
function inverseWindowPower(w: Float32Array, hop: number, who: string): Float64Array {
  const n = w.length;
  const sums = new Float64Array(hop);
  for (let i = 0; i < n; i++) sums[i % hop] += w[i] * w[i];
  let max = 0;
  for (let j = 0; j < hop; j++) max = Math.max(max, sums[j]);
  for (let j = 0; j < hop; j++) {
    if (!(sums[j] > 1e-6 * max)) {
      throw new Error(
        `${who}: window/hop pair fails the NOLA condition (sum of squared windows at offset ${j} is ${sums[j].toExponential(2)}, ` +
          `max ${max.toExponential(2)}); use a smaller hop (e.g. nFft/2 or nFft/4 for hann and sqrt-hann)`,
      );
    }
  }
  const inv = new Float64Array(hop);
  for (let j = 0; j < hop; j++) inv[j] = 1 / sums[j];
  return inv;
}

export class StreamingIstft {
  readonly nFft: number;
  readonly hop: number;
  readonly latency: number;
  private readonly window: Float32Array;
  private readonly invPower: Float64Array;
  private readonly fft: RealFft;
  private readonly frame: Float32Array;
  /** Overlap-add accumulator; index 0 is the next output sample. */
  private readonly acc: Float64Array;
  private readonly out: Float32Array;

  constructor(o: StftOptions) {
    checkOptions(o, 'StreamingIstft');
    this.nFft = o.nFft;
    this.hop = o.hop;
    this.latency = o.nFft - o.hop;
    this.window = makeWindow(o.window ?? 'hann', o.nFft);
    this.invPower = inverseWindowPower(this.window, o.hop, 'StreamingIstft');
    this.fft = new RealFft(o.nFft);
    this.frame = new Float32Array(o.nFft);
    this.acc = new Float64Array(o.nFft);
    this.out = new Float32Array(o.hop);
  }

  /** One spectrum (nFft + 2 floats) in, exactly hop samples out; the returned array is reused by the next push. */
  push(spectrum: Float32Array): Float32Array {
    const n = this.nFft;
    const hop = this.hop;
    if (spectrum.length < n + 2) throw new Error(`StreamingIstft.push: spectrum needs ${n + 2} floats, got ${spectrum.length}`);
    this.fft.inverse(spectrum, this.frame);
    const acc = this.acc;
    const f = this.frame;
    const w = this.window;
    for (let i = 0; i < n; i++) acc[i] += f[i] * w[i];
    const out = this.out;
    const inv = this.invPower;
    for (let j = 0; j < hop; j++) out[j] = acc[j] * inv[j];
    acc.copyWithin(0, hop);
    acc.fill(0, n - hop);
    return out;
  }

  reset(): void {
    this.acc.fill(0);
  }
}

/** Weighted overlap-add of all frames; returns frames.length * hop samples, the same as the streaming pushes concatenated. */
export function istftOffline(frames: Float32Array[], o: StftOptions): Float32Array {
  checkOptions(o, 'istftOffline');
  const { nFft, hop } = o;
  const w = makeWindow(o.window ?? 'hann', nFft);
  const inv = inverseWindowPower(w, hop, 'istftOffline');
  const fft = new RealFft(nFft);
  const frame = new Float32Array(nFft);
  const acc = new Float64Array(frames.length * hop + nFft);
  frames.forEach((spec, k) => {
    fft.inverse(spec, frame);
    for (let i = 0; i < nFft; i++) acc[k * hop + i] += frame[i] * w[i];
  });
  const y = new Float32Array(frames.length * hop);
  for (let t = 0; t < y.length; t++) y[t] = acc[t] * inv[t % hop];
  return y;
}
