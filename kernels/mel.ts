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
 * The NeMo front end (nemo-mel.ts) uses this filterbank; centred framing is centred-framer.ts.
 */
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
/** @internal the filterbank rows as spans of nonzero weights (shared with nemo-mel.ts) */
export function sparseRows(bank: Float32Array[]): { start: Int32Array; weights: Float32Array[] } {
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
