/**
 * NeMo log-mel (StreamingNemoMel, nemoMelOffline): AudioToMelSpectrogramPreprocessor /
 * FilterbankFeatures at inference (dither off), as the cache-aware FastConformer configs set it:
 *   y[0] = x[0], y[t] = x[t] - preemph * x[t-1]              (whole-signal preemphasis, 0.97)
 *   w[i] = 0.5 - 0.5 cos(2 pi i / (winLength - 1))           (torch.hann_window(400, periodic=False))
 *   torch.stft(y, nFft=512, hop=160, winLength=400, center=True): y is padded by nFft/2 on both
 *   sides and the window is zero-padded to nFft with (nFft - winLength)/2 (floored) zeros on the
 *   left, so frame k is the nFft-point DFT of
 *     b[p + i] = w[i] * y[k*hop - O + i], i < winLength, b = 0 elsewhere,
 *     p = floor((nFft - winLength) / 2) = 56, O = nFft/2 - p = 200,
 *   i.e. the window is centred on sample k*hop. Samples outside the signal follow padMode:
 *     'constant' (NeMo >= 2.4, torch.stft pad_mode='constant'): zeros; NeMo's valid length is
 *       floor(N / hop) frames (get_seq_len has no +1; torch.stft's extra last frame is masked
 *       to pad_value), and exactly those are emitted;
 *     'reflect' (NeMo < 2.4, torch.stft's default pad_mode): y reflected without repeating the
 *       edge sample; valid length floor(N / hop) + 1 frames (the old get_seq_len).
 *   The preemphasised signal is what is padded: preemphasis runs before torch.stft.
 *   S_k = |X_k|^magPower (2), mel_i = sum_k fb[i][k] S_k with fb = librosa.filters.mel(sr, nFft,
 *   nMels, fmin=0, fmax=sr/2, htk=False, norm='slaney') (= melFilterbank with melScale 'slaney'),
 *   out_i = ln(mel_i + 2^-24) (log_zero_guard_type 'add') or ln(max(mel_i, 2^-24)) ('clamp').
 * Streaming: y is causal (one sample of history); frame k is emitted once sample k*hop + 199
 * has arrived ('reflect': frame 0 also needs y[200], so it waits one sample more); flush emits
 * the frames still missing from the valid count, reading past the end by padMode. normalize:
 * streaming cache-aware models use 'NA' (none), which is what the streaming class computes;
 * 'per_feature' needs the whole utterance and is offered only offline (nemoNormalizePerFeature).
 * y is stored as float32 (as torch computes it) in both paths, so both see identical samples.
 */
import { CentredFramer, edgeIndex, type EdgeMode } from './centred-framer.js';
import { RealFft } from './fft.js';
import { melFilterbank, sparseRows } from './mel.js';
import type { FrameSink } from './rechunker.js';

export interface NemoMelOptions {
  /** Default 16000. */
  sampleRate?: number;
  /** Analysis window length in samples (window_size * sampleRate). Default 400 (25 ms). */
  winLength?: number;
  /** Hop in samples (window_stride * sampleRate). Default 160 (10 ms). */
  hop?: number;
  /** Default 2^ceil(log2(winLength)) (NeMo's default): 512 for 400. */
  nFft?: number;
  /** Default 80 (128 for the larger models). */
  nMels?: number;
  /** Default 0. */
  fmin?: number;
  /** Default sampleRate / 2. */
  fmax?: number;
  /** Preemphasis coefficient, 0 for none. Default 0.97. */
  preemph?: number;
  /** Default 2 (power spectrum). */
  magPower?: 1 | 2;
  /** Default 'add': ln(mel + guard); 'clamp': ln(max(mel, guard)). */
  logGuard?: 'add' | 'clamp';
  /** Default 2^-24. */
  logGuardValue?: number;
  /** Default 'constant' (NeMo >= 2.4); 'reflect' for NeMo < 2.4. */
  padMode?: 'constant' | 'reflect';
}

interface NemoResolved {
  sampleRate: number;
  winLength: number;
  hop: number;
  nFft: number;
  nMels: number;
  fmin: number;
  fmax: number;
  preemph: number;
  magPower: 1 | 2;
  logGuard: 'add' | 'clamp';
  logGuardValue: number;
  padMode: 'constant' | 'reflect';
  /** Left zero padding of the window inside nFft, and the window start relative to the frame centre. */
  winPad: number;
  offset: number;
}

function resolveNemo(o: NemoMelOptions = {}): NemoResolved {
  const winLength = o.winLength ?? 400;
  const nFft = o.nFft ?? 2 ** Math.ceil(Math.log2(winLength));
  const sampleRate = o.sampleRate ?? 16000;
  const r: NemoResolved = {
    sampleRate,
    winLength,
    hop: o.hop ?? 160,
    nFft,
    nMels: o.nMels ?? 80,
    fmin: o.fmin ?? 0,
    fmax: o.fmax ?? sampleRate / 2,
    preemph: o.preemph ?? 0.97,
    magPower: o.magPower ?? 2,
    logGuard: o.logGuard ?? 'add',
    logGuardValue: o.logGuardValue ?? 2 ** -24,
    padMode: o.padMode ?? 'constant',
    winPad: Math.floor((nFft - winLength) / 2),
    offset: nFft / 2 - Math.floor((nFft - winLength) / 2),
  };
  if (!Number.isInteger(r.winLength) || r.winLength < 2) throw new Error(`nemoMel: winLength must be an integer >= 2, got ${r.winLength}`);
  if (!Number.isInteger(r.nFft) || r.nFft < 4 || (r.nFft & (r.nFft - 1)) !== 0 || r.nFft < r.winLength) {
    throw new Error(`nemoMel: nFft must be a power of two >= max(4, winLength=${r.winLength}), got ${r.nFft}`);
  }
  if (!Number.isInteger(r.hop) || r.hop < 1) throw new Error(`nemoMel: hop must be a positive integer, got ${r.hop}`);
  if (!(r.preemph >= 0 && r.preemph < 1)) throw new Error(`nemoMel: preemph must be in [0, 1), got ${r.preemph}`);
  if (r.magPower !== 1 && r.magPower !== 2) throw new Error(`nemoMel: magPower must be 1 or 2, got ${String(r.magPower)}`);
  if (r.logGuard !== 'add' && r.logGuard !== 'clamp') throw new Error(`nemoMel: logGuard must be 'add' or 'clamp', got ${String(r.logGuard)}`);
  if (!(r.logGuardValue > 0)) throw new Error(`nemoMel: logGuardValue must be positive, got ${r.logGuardValue}`);
  if (r.padMode !== 'constant' && r.padMode !== 'reflect') throw new Error(`nemoMel: padMode must be 'constant' or 'reflect', got ${String(r.padMode)}`);
  return r;
}

function nemoBank(r: NemoResolved): Float32Array[] {
  return melFilterbank({ sampleRate: r.sampleRate, nFft: r.nFft, hop: r.hop, nMels: r.nMels, fmin: r.fmin, fmax: r.fmax, melScale: 'slaney' });
}

/** torch.hann_window(n, periodic=False), in float64. */
function symmetricHann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
  return w;
}

/** NeMo's valid frame count for n samples: floor(n/hop) ('constant'), floor(n/hop) + 1 ('reflect'); 0 for an empty stream. */
export function nemoMelFrameCount(n: number, o: NemoMelOptions = {}): number {
  return nemoCount(n, resolveNemo(o));
}

function nemoCount(n: number, r: NemoResolved): number {
  if (n <= 0) return 0;
  return Math.floor(n / r.hop) + (r.padMode === 'reflect' ? 1 : 0);
}

export class StreamingNemoMel {
  readonly nMels: number;
  readonly hop: number;
  /** Samples past a frame's centre (k*hop) that must arrive before it is emitted: winLength - offset (200). */
  readonly lookahead: number;
  private readonly r: NemoResolved;
  private readonly framer: CentredFramer;
  private readonly window: Float64Array;
  private readonly fft: RealFft;
  private readonly fftIn: Float32Array;
  private readonly spectrum: Float32Array;
  private readonly spec: Float64Array;
  private readonly rowStart: Int32Array;
  private readonly rowWeights: Float32Array[];
  private readonly mel: Float32Array;
  /** Preemphasised samples of the current input block. */
  private readonly block: Float32Array;
  private prev = 0;
  private started = false;
  private sink: ((mel: Float32Array, frameIndex: number) => void) | null = null;
  private readonly onFrame = (frame: Float32Array, index: number): void => {
    const r = this.r;
    const w = this.window;
    const b = this.fftIn;
    const p = r.winPad;
    for (let i = 0; i < r.winLength; i++) b[p + i] = w[i] * frame[i];
    this.fft.forward(b, this.spectrum);
    const s = this.spectrum;
    const spec = this.spec;
    const bins = spec.length;
    for (let k = 0; k < bins; k++) {
      const p = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1];
      spec[k] = r.magPower === 2 ? p : Math.sqrt(p);
    }
    const mel = this.mel;
    const g = r.logGuardValue;
    const add = r.logGuard === 'add';
    for (let i = 0; i < this.nMels; i++) {
      const wr = this.rowWeights[i];
      const k0 = this.rowStart[i];
      let acc = 0;
      for (let j = 0; j < wr.length; j++) acc += wr[j] * spec[k0 + j];
      mel[i] = Math.log(add ? acc + g : Math.max(acc, g));
    }
    (this.sink as (mel: Float32Array, frameIndex: number) => void)(mel, index);
  };

  constructor(o: NemoMelOptions = {}) {
    const r = resolveNemo(o);
    this.r = r;
    this.nMels = r.nMels;
    this.hop = r.hop;
    this.lookahead = r.winLength - r.offset;
    this.framer = new CentredFramer(r.winLength, r.hop, r.offset, r.padMode === 'reflect' ? 'reflect' : 'zeros');
    this.window = symmetricHann(r.winLength);
    this.fft = new RealFft(r.nFft);
    this.fftIn = new Float32Array(r.nFft);
    this.spectrum = new Float32Array(r.nFft + 2);
    this.spec = new Float64Array(r.nFft / 2 + 1);
    const rows = sparseRows(nemoBank(r));
    this.rowStart = rows.start;
    this.rowWeights = rows.weights;
    this.mel = new Float32Array(r.nMels);
    this.block = new Float32Array(1024);
  }

  /** Samples that must have been pushed before frame k is emitted. */
  readyAt(k: number): number {
    return this.framer.readyAt(k);
  }

  /** Frames a stream of n samples yields in all, flush included (NeMo's valid length). */
  frameCount(n: number): number {
    return nemoCount(n, this.r);
  }

  /** Emits every frame whose samples have all arrived. The emitted array is reused: copy it to keep it. */
  push(input: Float32Array, emit: (mel: Float32Array, frameIndex: number) => void): void {
    const c = this.r.preemph;
    const block = this.block;
    this.sink = emit;
    for (let at = 0; at < input.length; at += block.length) {
      const n = Math.min(block.length, input.length - at);
      let prev = this.prev;
      let i = 0;
      if (!this.started && n > 0) {
        block[0] = input[at];
        prev = input[at];
        this.started = true;
        i = 1;
      }
      for (; i < n; i++) {
        const v = input[at + i];
        block[i] = v - c * prev;
        prev = v;
      }
      this.prev = prev;
      this.framer.push(block, this.onFrame, 0, n);
    }
    this.sink = null;
  }

  /** Ends the stream: emits the remaining frames of NeMo's valid length (edges by padMode), then resets. */
  flush(emit: (mel: Float32Array, frameIndex: number) => void): void {
    this.sink = emit;
    this.framer.flush(this.frameCount(this.framer.length), this.onFrame);
    this.sink = null;
    this.reset();
  }

  reset(): void {
    this.framer.reset();
    this.prev = 0;
    this.started = false;
  }
}

/** NeMo log-mel of a whole signal, frame by frame from the padded preemphasised signal, dense filterbank. */
export function nemoMelOffline(x: Float32Array, o: NemoMelOptions = {}): Float32Array[] {
  const r = resolveNemo(o);
  const n = x.length;
  const y = new Float32Array(n);
  for (let t = 0; t < n; t++) y[t] = t === 0 ? x[0] : x[t] - r.preemph * x[t - 1];
  const count = nemoCount(n, r);
  const w = symmetricHann(r.winLength);
  const bank = nemoBank(r);
  const fft = new RealFft(r.nFft);
  const buf = new Float32Array(r.nFft);
  const spec = new Float32Array(r.nFft + 2);
  const bins = r.nFft / 2 + 1;
  const edge: EdgeMode = r.padMode === 'reflect' ? 'reflect' : 'zeros';
  const out: Float32Array[] = [];
  for (let k = 0; k < count; k++) {
    buf.fill(0);
    for (let i = 0; i < r.winLength; i++) {
      const s = edgeIndex(k * r.hop - r.offset + i, n, edge);
      buf[r.winPad + i] = w[i] * (s < 0 ? 0 : y[s]);
    }
    fft.forward(buf, spec);
    const mel = new Float32Array(r.nMels);
    for (let i = 0; i < r.nMels; i++) {
      let acc = 0;
      for (let b = 0; b < bins; b++) {
        const p = spec[2 * b] * spec[2 * b] + spec[2 * b + 1] * spec[2 * b + 1];
        acc += bank[i][b] * (r.magPower === 2 ? p : Math.sqrt(p));
      }
      mel[i] = Math.log(r.logGuard === 'add' ? acc + r.logGuardValue : Math.max(acc, r.logGuardValue));
    }
    out.push(mel);
  }
  return out;
}

/**
 * NeMo normalize='per_feature' over a whole utterance (offline only; streaming models use 'NA'):
 * per band, (v - mean) / (std + 1e-5) with the unbiased std (n - 1; 0 when there is one frame).
 */
export function nemoNormalizePerFeature(frames: Float32Array[]): Float32Array[] {
  if (frames.length === 0) return [];
  const d = frames[0].length;
  const n = frames.length;
  const mean = new Float64Array(d);
  for (const f of frames) for (let i = 0; i < d; i++) mean[i] += f[i];
  for (let i = 0; i < d; i++) mean[i] /= n;
  const std = new Float64Array(d);
  for (const f of frames) for (let i = 0; i < d; i++) std[i] += (f[i] - mean[i]) ** 2;
  for (let i = 0; i < d; i++) std[i] = (n > 1 ? Math.sqrt(std[i] / (n - 1)) : 0) + 1e-5;
  return frames.map((f) => {
    const g = new Float32Array(d);
    for (let i = 0; i < d; i++) g[i] = (f[i] - mean[i]) / std[i];
    return g;
  });
}
