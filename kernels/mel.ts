/**
 * Log-mel spectrogram, streaming and offline.
 *
 * Mel scales (m = mel, f = Hz):
 *   htk:    m = 2595 * log10(1 + f / 700),           f = 700 * (10^(m / 2595) - 1)
 *   slaney: linear below 1 kHz, logarithmic above (Slaney's Auditory Toolbox, librosa's default):
 *           m = f / (200/3)                           for f < 1000  (so m(1000 Hz) = 15)
 *           m = 15 + ln(f / 1000) / (ln(6.4) / 27)    for f >= 1000
 *
 * Filterbank: nMels + 2 points f_0..f_(nMels+1) equally spaced in mel between fmin and fmax,
 * mapped back to Hz. Row i is the triangle rising from 0 at f_i to 1 at f_(i+1) and falling to
 * 0 at f_(i+2), sampled at the FFT bin frequencies k * sampleRate / nFft, k = 0..nFft/2:
 *   w_i(f) = max(0, min((f - f_i) / (f_(i+1) - f_i), (f_(i+2) - f) / (f_(i+2) - f_(i+1)))).
 * With melScale 'slaney' each row is then multiplied by 2 / (f_(i+2) - f_i) (Slaney area
 * normalisation: every triangle has unit area in Hz, so bands keep equal energy for white
 * noise); with 'htk' rows are left with peak 1. (This matches librosa.filters.mel with
 * htk=False/norm='slaney' and htk=True/norm=None respectively.)
 *
 * Features: per STFT frame (stft.ts convention: left-padded, causal, periodic window), the
 * spectrum value S_k = |X_k|^power (power 2: power spectrum, 1: magnitude), then
 *   mel_i = ln(max(sum_k w_i(k) * S_k, logFloor))   (natural log, logFloor default 1e-10).
 * The STFT is unnormalised (sum over nFft samples, no 1/nFft).
 *
 * ---------------------------------------------------------------------------------------------
 * Centred framing with edges (CentredFramer; used by the NeMo front end below and by fbank.ts).
 * Frame m covers x[m*hop - offset, m*hop - offset + frameLength): frames are placed relative to
 * the signal, not to a padded copy of it. Indices s outside [0, n) take their value from the
 * edge rule (n = samples known):
 *   zeros:     x[s] = 0                                     (torch.stft pad_mode='constant')
 *   reflect:   x[-s] = x[s], x[n-1+s] = x[n-1-s]            (edge not repeated: torch/numpy 'reflect'),
 *              period 2(n-1), and x[s] = x[0] when n = 1
 *   symmetric: x[-1-s] = x[s], x[n+s] = x[n-1-s]            (edge repeated: Kaldi snip_edges=false),
 *              period 2n
 * Reflection is applied repeatedly (modulo the period) when a frame reaches further than n
 * samples past an edge; torch refuses such short inputs, Kaldi loops exactly like this.
 * Streaming: frame m is emitted as soon as every true sample it reads has arrived:
 *   readyAt(m) = max(m*hop - offset + frameLength, leftNeed),
 *   leftNeed = offset + 1 (reflect), offset (symmetric), 0 (zeros): what frame 0 reads by mirroring
 *   (frames go out in order, and later frames mirror less),
 * so the left edge is causal: its values are either zeros or samples that the frame itself
 * already waits for (plus one sample for 'reflect' at most). The right edge exists only at
 * flush, where the stream length n is finally known: flush emits frames up to a frame count
 * that the caller derives from n (each front end has its own rule), reading past n by the edge
 * rule. Nothing is ever padded per chunk, so chunking cannot change a frame.
 *
 * ---------------------------------------------------------------------------------------------
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
import { RealFft } from './fft.js';
import type { FrameSink } from './rechunker.js';
import { StreamingStft, stftOffline, type StftOptions } from './stft.js';
import type { WindowKind } from './window.js';

export type MelScale = 'htk' | 'slaney';

export interface LogMelOptions {
  sampleRate: number;
  nFft: number;
  hop: number;
  nMels: number;
  /** Default 0. */
  fmin?: number;
  /** Default sampleRate / 2. */
  fmax?: number;
  /** Default 'hann'. */
  window?: WindowKind;
  /** Default 'slaney'. */
  melScale?: MelScale;
  /** Default 1e-10. */
  logFloor?: number;
  /** Default 2. */
  power?: 1 | 2;
}

// 200/3 Hz per mel below 1 kHz; written as *3/200 so that 1000 Hz maps to exactly 15.
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = 15;
const SLANEY_LOGSTEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  if (hz < SLANEY_MIN_LOG_HZ) return (3 * hz) / 200;
  return SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOGSTEP;
}

export function melToHz(mel: number, scale: MelScale): number {
  if (scale === 'htk') return 700 * (Math.pow(10, mel / 2595) - 1);
  if (mel < SLANEY_MIN_LOG_MEL) return (200 * mel) / 3;
  return SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOGSTEP * (mel - SLANEY_MIN_LOG_MEL));
}

interface Resolved {
  sampleRate: number;
  nFft: number;
  hop: number;
  nMels: number;
  fmin: number;
  fmax: number;
  window: WindowKind;
  melScale: MelScale;
  logFloor: number;
  power: 1 | 2;
}

function resolve(o: LogMelOptions): Resolved {
  const r: Resolved = {
    sampleRate: o.sampleRate,
    nFft: o.nFft,
    hop: o.hop,
    nMels: o.nMels,
    fmin: o.fmin ?? 0,
    fmax: o.fmax ?? o.sampleRate / 2,
    window: o.window ?? 'hann',
    melScale: o.melScale ?? 'slaney',
    logFloor: o.logFloor ?? 1e-10,
    power: o.power ?? 2,
  };
  if (!(r.sampleRate > 0)) throw new Error(`mel: sampleRate must be positive, got ${r.sampleRate}`);
  if (!Number.isInteger(r.nMels) || r.nMels < 1) throw new Error(`mel: nMels must be a positive integer, got ${r.nMels}`);
  if (!(r.fmin >= 0 && r.fmin < r.fmax && r.fmax <= r.sampleRate / 2)) {
    throw new Error(`mel: need 0 <= fmin < fmax <= sampleRate/2, got fmin=${r.fmin} fmax=${r.fmax} sampleRate=${r.sampleRate}`);
  }
  if (!(r.logFloor > 0)) throw new Error(`mel: logFloor must be positive, got ${r.logFloor}`);
  if (r.power !== 1 && r.power !== 2) throw new Error(`mel: power must be 1 or 2, got ${String(r.power)}`);
  return r;
}

export function melFilterbank(o: LogMelOptions): Float32Array[] {
  const r = resolve(o);
  const bins = Math.floor(r.nFft / 2) + 1;
  const lo = hzToMel(r.fmin, r.melScale);
  const hi = hzToMel(r.fmax, r.melScale);
  const f = new Float64Array(r.nMels + 2);
  for (let i = 0; i < f.length; i++) f[i] = melToHz(lo + ((hi - lo) * i) / (r.nMels + 1), r.melScale);
  const rows: Float32Array[] = [];
  for (let i = 0; i < r.nMels; i++) {
    const row = new Float32Array(bins);
    const scale = r.melScale === 'slaney' ? 2 / (f[i + 2] - f[i]) : 1;
    for (let k = 0; k < bins; k++) {
      const hz = (k * r.sampleRate) / r.nFft;
      const rise = (hz - f[i]) / (f[i + 1] - f[i]);
      const fall = (f[i + 2] - hz) / (f[i + 2] - f[i + 1]);
      row[k] = Math.max(0, Math.min(rise, fall)) * scale;
    }
    rows.push(row);
  }
  return rows;
}

/** Filterbank rows cut to their non-zero span (most of each row is zero): first bin and weights. */
function sparseRows(bank: Float32Array[]): { start: Int32Array; weights: Float32Array[] } {
  const start = new Int32Array(bank.length);
  const weights = bank.map((row, i) => {
    let a = 0;
    while (a < row.length && row[a] === 0) a++;
    let b = row.length;
    while (b > a && row[b - 1] === 0) b--;
    start[i] = a < b ? a : 0;
    return row.slice(a, b);
  });
  return { start, weights };
}

function stftOptions(r: Resolved): StftOptions {
  return { nFft: r.nFft, hop: r.hop, window: r.window };
}

export class StreamingLogMel {
  readonly nMels: number;
  readonly latency: number;
  private readonly stft: StreamingStft;
  private readonly power: 1 | 2;
  private readonly floor: number;
  /** Filterbank rows cut to their non-zero span (most of each row is zero), as [first bin, weights]. */
  private readonly rowStart: Int32Array;
  private readonly rowWeights: Float32Array[];
  private readonly spec: Float64Array;
  private readonly mel: Float32Array;
  private sink: ((mel: Float32Array, frameIndex: number) => void) | null = null;
  private readonly onSpectrum = (s: Float32Array, index: number): void => {
    const spec = this.spec;
    const bins = spec.length;
    if (this.power === 2) {
      for (let k = 0; k < bins; k++) spec[k] = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1];
    } else {
      for (let k = 0; k < bins; k++) spec[k] = Math.hypot(s[2 * k], s[2 * k + 1]);
    }
    const mel = this.mel;
    for (let i = 0; i < this.nMels; i++) {
      const w = this.rowWeights[i];
      const k0 = this.rowStart[i];
      let acc = 0;
      for (let j = 0; j < w.length; j++) acc += w[j] * spec[k0 + j];
      mel[i] = Math.log(Math.max(acc, this.floor));
    }
    (this.sink as (mel: Float32Array, frameIndex: number) => void)(mel, index);
  };

  constructor(o: LogMelOptions) {
    const r = resolve(o);
    this.stft = new StreamingStft(stftOptions(r));
    this.nMels = r.nMels;
    this.latency = this.stft.latency;
    this.power = r.power;
    this.floor = r.logFloor;
    const rows = sparseRows(melFilterbank(o));
    this.rowStart = rows.start;
    this.rowWeights = rows.weights;
    this.spec = new Float64Array(this.stft.bins);
    this.mel = new Float32Array(r.nMels);
  }

  push(input: Float32Array, emit: (mel: Float32Array, frameIndex: number) => void): void {
    this.sink = emit;
    this.stft.push(input, this.onSpectrum);
    this.sink = null;
  }

  /** Nothing is held back: frames are causal and emitted when their last sample arrives. */
  flush(_emit: (mel: Float32Array, frameIndex: number) => void): void {}

  reset(): void {
    this.stft.reset();
  }
}

/** log-mel of every stftOffline frame, with the dense filterbank. */
export function logMelOffline(x: Float32Array, o: LogMelOptions): Float32Array[] {
  const r = resolve(o);
  const bank = melFilterbank(o);
  const frames = stftOffline(x, stftOptions(r));
  const bins = Math.floor(r.nFft / 2) + 1;
  return frames.map((s) => {
    const mel = new Float32Array(r.nMels);
    for (let i = 0; i < r.nMels; i++) {
      let acc = 0;
      for (let k = 0; k < bins; k++) {
        const mag2 = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1];
        acc += bank[i][k] * (r.power === 2 ? mag2 : Math.sqrt(mag2));
      }
      mel[i] = Math.log(Math.max(acc, r.logFloor));
    }
    return mel;
  });
}

// ---------------------------------------------------------------------------------------------
// Centred framing with edge rules (see the file comment).

export type EdgeMode = 'zeros' | 'reflect' | 'symmetric';

/** Where sample s of an n-sample signal comes from under an edge rule: an index in [0, n), or -1 for a zero. */
export function edgeIndex(s: number, n: number, mode: EdgeMode): number {
  if (s >= 0 && s < n) return s;
  if (mode === 'zeros' || n === 0) return -1;
  if (mode === 'reflect') {
    if (n === 1) return 0;
    const p = 2 * (n - 1);
    const r = ((s % p) + p) % p;
    return r < n ? r : p - r;
  }
  const p = 2 * n;
  const r = ((s % p) + p) % p;
  return r < n ? r : p - 1 - r;
}

/**
 * Frames of frameLength samples every hop samples, frame m starting at m*hop - offset, with
 * edges by rule; see the file comment for readyAt and flush. The history is a linear buffer
 * compacted (copyWithin) when full, so each sample is copied O(1) times amortised and a frame
 * costs one copy of frameLength samples into the reused frame buffer.
 */
export class CentredFramer {
  readonly frameLength: number;
  readonly hop: number;
  readonly offset: number;
  readonly edge: EdgeMode;
  private readonly buf: Float32Array;
  /** Samples kept when compacting: every frame still to come reads no further back than this. */
  private readonly keep: number;
  private readonly frame: Float32Array;
  /** Absolute index of buf[0]; samples [base, pushed) are in buf[0, pushed - base). */
  private base = 0;
  private pushed = 0;
  private next = 0;
  private nextReady: number;

  constructor(frameLength: number, hop: number, offset: number, edge: EdgeMode) {
    if (!Number.isInteger(frameLength) || frameLength < 1) throw new Error(`CentredFramer: frameLength must be a positive integer, got ${frameLength}`);
    if (!Number.isInteger(hop) || hop < 1) throw new Error(`CentredFramer: hop must be a positive integer, got ${hop}`);
    if (!Number.isInteger(offset) || offset < 0 || offset > frameLength) {
      throw new Error(`CentredFramer: offset must be an integer in [0, frameLength=${frameLength}], got ${offset}`);
    }
    this.frameLength = frameLength;
    this.hop = hop;
    this.offset = offset;
    this.edge = edge;
    this.keep = frameLength + hop;
    // Large enough that frames needing the left edge are all emitted before the first compaction.
    this.buf = new Float32Array(2 * (frameLength + hop + offset) + 2);
    this.frame = new Float32Array(frameLength);
    this.nextReady = this.readyAt(0);
  }

  /**
   * Samples that must have been pushed before frame m is emitted: its end, and what frame 0 reads
   * from mirrored samples (frames go out in order, and frame 0 reaches furthest into the signal).
   */
  readyAt(m: number): number {
    const end = m * this.hop - this.offset + this.frameLength;
    const left = this.edge === 'reflect' ? this.offset + 1 : this.edge === 'symmetric' ? this.offset : 0;
    return Math.max(end, left);
  }

  /** Frames emitted so far. */
  get emitted(): number {
    return this.next;
  }

  /** Samples pushed so far. */
  get length(): number {
    return this.pushed;
  }

  /** Pushes input[from, to) (default: all of it); no allocation. */
  push(input: Float32Array, emit: FrameSink, from = 0, to = input.length): void {
    const n = to;
    let i = from;
    while (i < n) {
      const take = Math.min(this.nextReady - this.pushed, n - i);
      this.append(input, i, take);
      i += take;
      while (this.pushed >= this.nextReady) {
        this.emitFrame(this.next, emit);
        this.next++;
        this.nextReady = this.readyAt(this.next);
      }
    }
  }

  /** Emits frames emitted..count-1, reading past the end by the edge rule, then resets. */
  flush(count: number, emit: FrameSink): void {
    if (this.next > count) throw new Error(`CentredFramer.flush: ${this.next} frames already emitted, but the stream has only ${count}`);
    for (; this.next < count; this.next++) this.emitFrame(this.next, emit);
    this.reset();
  }

  reset(): void {
    this.base = 0;
    this.pushed = 0;
    this.next = 0;
    this.nextReady = this.readyAt(0);
  }

  private append(src: Float32Array, from: number, count: number): void {
    const buf = this.buf;
    while (count > 0) {
      let used = this.pushed - this.base;
      if (used === buf.length) {
        buf.copyWithin(0, used - this.keep, used);
        this.base += used - this.keep;
        used = this.keep;
      }
      const take = Math.min(count, buf.length - used);
      for (let i = 0; i < take; i++) buf[used + i] = src[from + i];
      this.pushed += take;
      from += take;
      count -= take;
    }
  }

  private emitFrame(m: number, emit: FrameSink): void {
    const len = this.frameLength;
    const n = this.pushed;
    const start = m * this.hop - this.offset;
    const buf = this.buf;
    const base = this.base;
    const f = this.frame;
    if (start >= base && start + len <= n) {
      const at = start - base;
      for (let i = 0; i < len; i++) f[i] = buf[at + i];
    } else {
      for (let i = 0; i < len; i++) {
        const s = edgeIndex(start + i, n, this.edge);
        if (s < 0) {
          f[i] = 0;
          continue;
        }
        if (s < base) throw new Error(`CentredFramer: sample ${s} was already dropped (internal error)`);
        f[i] = buf[s - base];
      }
    }
    emit(f, m);
  }
}

// ---------------------------------------------------------------------------------------------
// NeMo log-mel front end (see the file comment).

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
