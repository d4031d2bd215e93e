/**
 * Kaldi log-mel filterbank (compute-fbank / kaldi-native-fbank), streaming and offline, with the
 * defaults sherpa-onnx uses for icefall zipformer2 transducers.
 *
 * Framing (FrameExtractionOptions): L = sampleRate * frameLengthMs / 1000 = 400 samples,
 * H = sampleRate * frameShiftMs / 1000 = 160, both truncated to integers as Kaldi does.
 *   snipEdges false (default): frame m starts at m*H + floor(H/2) - floor(L/2) = m*H - 120, i.e.
 *     it is centred on m*H + H/2; samples outside [0, N) are mirrored with the edge sample
 *     repeated (x[-1-s] = x[s], x[N+s] = x[N-1-s], applied repeatedly when needed); a stream of
 *     N samples has floor((N + floor(H/2)) / H) frames.
 *   snipEdges true: frame m starts at m*H, only frames that fit: N < L ? 0 : 1 + floor((N - L) / H).
 * Per frame v[0..L) (ProcessWindow), with dither 0:
 *   remove DC:   v[i] -= mean(v)                                   (removeDcOffset, default true)
 *   preemphasis: v[i] -= c * v[i-1] for i = L-1 down to 1, then v[0] -= c * v[0]   (c = 0.97)
 *   window:      v[i] *= w[i], a = 2 pi / (L - 1):
 *                povey (0.5 - 0.5 cos(a i))^0.85, hann 0.5 - 0.5 cos(a i),
 *                hamming 0.54 - 0.46 cos(a i), rectangular 1
 *   zero-pad to P = 2^ceil(log2 L) = 512 (round_to_power_of_two, always on here), X = DFT_P(v),
 *   S_k = |X_k|^2 (usePower, default true) or |X_k|, k = 0..P/2.
 * Mel banks (MelBanks): mel(f) = 1127 ln(1 + f / 700); highFreq <= 0 means nyquist + highFreq
 * (-400 -> 7600 Hz); delta = (mel(highFreq) - mel(lowFreq)) / (numBins + 1); bin b has
 * left = mel(lowFreq) + b*delta, centre = left + delta, right = left + 2*delta, and weight at FFT
 * bin k < P/2 (frequency k * sampleRate / P, m = mel of it)
 *   (m - left) / (centre - left) for left < m <= centre, (right - m) / (right - centre) for
 *   centre < m < right, 0 elsewhere, and 0 for the Nyquist bin k = P/2
 * (triangles in the mel domain, peak 1, no area normalisation).
 * Output (useEnergy false, useLogFbank true): fbank_b = ln(max(sum_k weight_b(k) S_k, FLT_EPSILON)),
 * FLT_EPSILON = 2^-23. Samples are taken as given (sherpa-onnx feeds floats in [-1, 1]).
 *
 * Streaming (CentredFramer with the 'symmetric' edge): frame m is emitted once sample
 * m*H + 279 has arrived (readyAt(m) = m*H - 120 + 400); frame 0 reads x[119..0] mirrored, which
 * lie inside what it waits for anyway, so the start is causal and nothing is padded per chunk.
 * This is Kaldi's own online rule (NumFramesReady with flush=false emits a frame only when its
 * last sample exists). flush() knows N at last and emits the frames up to
 * floor((N + 80) / 160), mirroring the tail of the stream, then resets: streaming output is
 * exactly the offline output for every chunking. The lookahead past a frame's centre is
 * L - 120 - H/2 = 200 samples (12.5 ms).
 */
import { RealFft } from './fft.js';
import { CentredFramer, edgeIndex } from './centred-framer.js';

export type KaldiWindow = 'povey' | 'hann' | 'hamming' | 'rectangular';

export interface KaldiFbankOptions {
  /** Default 16000. */
  sampleRate?: number;
  /** Default 25. */
  frameLengthMs?: number;
  /** Default 10. */
  frameShiftMs?: number;
  /** Default 80. */
  numBins?: number;
  /** Default 20. */
  lowFreq?: number;
  /** Default -400 (<= 0: offset from Nyquist, so 7600 Hz at 16 kHz). */
  highFreq?: number;
  /** Default 0.97; 0 disables. */
  preemphCoeff?: number;
  /** Default true. */
  removeDcOffset?: boolean;
  /** Default 'povey'. */
  window?: KaldiWindow;
  /** Default false (frames centred on m*H + H/2, mirrored edges). */
  snipEdges?: boolean;
  /** Default true: power spectrum; false: magnitude. */
  usePower?: boolean;
}

/** Kaldi's FLT_EPSILON floor for the log. */
export const KALDI_LOG_FLOOR = 1.1920928955078125e-7;

interface Resolved {
  sampleRate: number;
  frameLength: number;
  frameShift: number;
  paddedLength: number;
  numBins: number;
  lowFreq: number;
  highFreq: number;
  preemph: number;
  removeDc: boolean;
  window: KaldiWindow;
  snipEdges: boolean;
  usePower: boolean;
  /** Frame m starts at m*frameShift - offset. */
  offset: number;
}

function resolve(o: KaldiFbankOptions = {}): Resolved {
  const sampleRate = o.sampleRate ?? 16000;
  const frameLength = Math.trunc(sampleRate * 0.001 * (o.frameLengthMs ?? 25));
  const frameShift = Math.trunc(sampleRate * 0.001 * (o.frameShiftMs ?? 10));
  const nyquist = sampleRate / 2;
  const hf = o.highFreq ?? -400;
  const snipEdges = o.snipEdges ?? false;
  const r: Resolved = {
    sampleRate,
    frameLength,
    frameShift,
    paddedLength: 2 ** Math.ceil(Math.log2(Math.max(4, frameLength))),
    numBins: o.numBins ?? 80,
    lowFreq: o.lowFreq ?? 20,
    highFreq: hf > 0 ? hf : nyquist + hf,
    preemph: o.preemphCoeff ?? 0.97,
    removeDc: o.removeDcOffset ?? true,
    window: o.window ?? 'povey',
    snipEdges,
    usePower: o.usePower ?? true,
    offset: snipEdges ? 0 : Math.floor(frameLength / 2) - Math.floor(frameShift / 2),
  };
  if (!(sampleRate > 0)) throw new Error(`kaldiFbank: sampleRate must be positive, got ${sampleRate}`);
  if (!(r.frameLength >= 2)) throw new Error(`kaldiFbank: the frame must hold at least 2 samples, got ${r.frameLength}`);
  if (!(r.frameShift >= 1 && r.frameShift <= r.frameLength)) {
    throw new Error(`kaldiFbank: the frame shift must be in [1, frame length=${r.frameLength}] samples, got ${r.frameShift}`);
  }
  if (!Number.isInteger(r.numBins) || r.numBins < 3) throw new Error(`kaldiFbank: numBins must be an integer >= 3, got ${r.numBins}`);
  if (!(r.lowFreq >= 0 && r.lowFreq < r.highFreq && r.highFreq <= nyquist)) {
    throw new Error(`kaldiFbank: need 0 <= lowFreq < highFreq <= nyquist, got lowFreq=${r.lowFreq} highFreq=${r.highFreq} (nyquist ${nyquist})`);
  }
  if (!(r.preemph >= 0 && r.preemph <= 1)) throw new Error(`kaldiFbank: preemphCoeff must be in [0, 1], got ${r.preemph}`);
  if (!['povey', 'hann', 'hamming', 'rectangular'].includes(r.window)) throw new Error(`kaldiFbank: unknown window '${String(r.window)}'`);
  return r;
}

export function kaldiMelScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

export function kaldiWindow(kind: KaldiWindow, n: number): Float64Array {
  const w = new Float64Array(n);
  const a = (2 * Math.PI) / (n - 1);
  for (let i = 0; i < n; i++) {
    const hann = 0.5 - 0.5 * Math.cos(a * i);
    w[i] = kind === 'povey' ? Math.pow(hann, 0.85) : kind === 'hann' ? hann : kind === 'hamming' ? 0.54 - 0.46 * Math.cos(a * i) : 1;
  }
  return w;
}

/** Kaldi's mel banks as dense rows over the paddedLength/2 + 1 FFT bins (the Nyquist weight is 0). */
export function kaldiMelBanks(o: KaldiFbankOptions = {}): Float64Array[] {
  const r = resolve(o);
  const bins = r.paddedLength / 2 + 1;
  const binWidth = r.sampleRate / r.paddedLength;
  const lo = kaldiMelScale(r.lowFreq);
  const delta = (kaldiMelScale(r.highFreq) - lo) / (r.numBins + 1);
  const rows: Float64Array[] = [];
  for (let b = 0; b < r.numBins; b++) {
    const left = lo + b * delta;
    const centre = lo + (b + 1) * delta;
    const right = lo + (b + 2) * delta;
    const row = new Float64Array(bins);
    for (let k = 0; k < bins - 1; k++) {
      const m = kaldiMelScale(binWidth * k);
      if (m > left && m < right) row[k] = m <= centre ? (m - left) / (centre - left) : (right - m) / (right - centre);
    }
    rows.push(row);
  }
  return rows;
}

/** Frames a stream of n samples yields in all, flush included. */
export function kaldiFbankFrameCount(n: number, o: KaldiFbankOptions = {}): number {
  const r = resolve(o);
  return frameCount(n, r);
}

function frameCount(n: number, r: Resolved): number {
  if (r.snipEdges) return n < r.frameLength ? 0 : 1 + Math.floor((n - r.frameLength) / r.frameShift);
  return Math.floor((n + Math.floor(r.frameShift / 2)) / r.frameShift);
}

/** Per-frame processing shared by both paths: DC removal, preemphasis, window, FFT, power, banks, log. */
class FrameProcessor {
  private readonly r: Resolved;
  private readonly window: Float64Array;
  private readonly work: Float64Array;
  private readonly fftIn: Float32Array;
  private readonly spectrum: Float32Array;
  private readonly fft: RealFft;
  private readonly spec: Float64Array;
  private readonly rowStart: Int32Array;
  private readonly rowWeights: Float64Array[];

  constructor(r: Resolved, dense: boolean) {
    this.r = r;
    this.window = kaldiWindow(r.window, r.frameLength);
    this.work = new Float64Array(r.frameLength);
    this.fftIn = new Float32Array(r.paddedLength);
    this.spectrum = new Float32Array(r.paddedLength + 2);
    this.fft = new RealFft(r.paddedLength);
    this.spec = new Float64Array(r.paddedLength / 2 + 1);
    const banks = kaldiMelBanks(r);
    this.rowStart = new Int32Array(banks.length);
    // The offline path keeps the dense rows (a plainer reference); streaming cuts them to their span.
    this.rowWeights = banks.map((row, i) => {
      if (dense) return row;
      let a = 0;
      while (a < row.length && row[a] === 0) a++;
      let b = row.length;
      while (b > a && row[b - 1] === 0) b--;
      this.rowStart[i] = a < b ? a : 0;
      return row.slice(a, b);
    });
  }

  /** frame: frameLength raw samples; writes numBins log energies into out. */
  process(frame: Float32Array, out: Float32Array): void {
    const r = this.r;
    const n = r.frameLength;
    const v = this.work;
    for (let i = 0; i < n; i++) v[i] = frame[i];
    if (r.removeDc) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += v[i];
      const mean = sum / n;
      for (let i = 0; i < n; i++) v[i] -= mean;
    }
    const c = r.preemph;
    if (c !== 0) {
      for (let i = n - 1; i > 0; i--) v[i] -= c * v[i - 1];
      v[0] -= c * v[0];
    }
    const w = this.window;
    const b = this.fftIn;
    for (let i = 0; i < n; i++) b[i] = v[i] * w[i];
    // b[n..paddedLength) stays zero.
    this.fft.forward(b, this.spectrum);
    const s = this.spectrum;
    const spec = this.spec;
    for (let k = 0; k < spec.length; k++) {
      const p = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1];
      spec[k] = r.usePower ? p : Math.sqrt(p);
    }
    for (let i = 0; i < r.numBins; i++) {
      const wr = this.rowWeights[i];
      const k0 = this.rowStart[i];
      let acc = 0;
      for (let j = 0; j < wr.length; j++) acc += wr[j] * spec[k0 + j];
      out[i] = Math.log(Math.max(acc, KALDI_LOG_FLOOR));
    }
  }
}

export type FbankSink = (frame: Float32Array, frameIndex: number) => void;

export class StreamingKaldiFbank {
  readonly numBins: number;
  readonly sampleRate: number;
  readonly frameLength: number;
  readonly frameShift: number;
  /** Samples past a frame's centre (m*H + H/2; m*H + L/2 with snipEdges) needed before it is emitted: 200. */
  readonly lookahead: number;
  private readonly r: Resolved;
  private readonly framer: CentredFramer;
  private readonly proc: FrameProcessor;
  private readonly out: Float32Array;
  private sink: FbankSink | null = null;
  private readonly onFrame = (frame: Float32Array, index: number): void => {
    this.proc.process(frame, this.out);
    (this.sink as FbankSink)(this.out, index);
  };

  constructor(o: KaldiFbankOptions = {}) {
    const r = resolve(o);
    this.r = r;
    this.numBins = r.numBins;
    this.sampleRate = r.sampleRate;
    this.frameLength = r.frameLength;
    this.frameShift = r.frameShift;
    this.lookahead = r.snipEdges ? r.frameLength - Math.floor(r.frameLength / 2) : r.frameLength - r.offset - Math.floor(r.frameShift / 2);
    this.framer = new CentredFramer(r.frameLength, r.frameShift, r.offset, 'symmetric');
    this.proc = new FrameProcessor(r, false);
    this.out = new Float32Array(r.numBins);
  }

  /** Samples that must have been pushed before frame m is emitted. */
  readyAt(m: number): number {
    return this.framer.readyAt(m);
  }

  /** Frames a stream of n samples yields in all, flush included. */
  frameCount(n: number): number {
    return frameCount(n, this.r);
  }

  /** Emits every frame whose samples have all arrived. The emitted array is reused: copy it to keep it. */
  push(samples: Float32Array, cb: FbankSink): void {
    this.sink = cb;
    this.framer.push(samples, this.onFrame);
    this.sink = null;
  }

  /** Ends the stream: emits the remaining frames (mirroring the tail), then resets. */
  flush(cb: FbankSink): void {
    this.sink = cb;
    this.framer.flush(frameCount(this.framer.length, this.r), this.onFrame);
    this.sink = null;
  }

  reset(): void {
    this.framer.reset();
  }
}

/** Kaldi fbank of a whole signal: frames cut from x with Kaldi's mirrored indices, dense mel banks. */
export function kaldiFbankOffline(x: Float32Array, o: KaldiFbankOptions = {}): Float32Array[] {
  const r = resolve(o);
  const n = x.length;
  const proc = new FrameProcessor(r, true);
  const frame = new Float32Array(r.frameLength);
  const out: Float32Array[] = [];
  const count = frameCount(n, r);
  for (let m = 0; m < count; m++) {
    const start = m * r.frameShift - r.offset;
    for (let i = 0; i < r.frameLength; i++) frame[i] = x[edgeIndex(start + i, n, 'symmetric')];
    const f = new Float32Array(r.numBins);
    proc.process(frame, f);
    out.push(f);
  }
  return out;
}
