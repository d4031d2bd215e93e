/**
 * Measured HRTFs from SOFA files (AES69), read with h5wasm (libhdf5 compiled to WebAssembly:
 * every HDF5 layout and filter a SOFA writer may use, nothing downloaded or built at install).
 *
 * What is read (SimpleFreeFieldHRIR and any other SOFA convention with DataType FIR):
 * - Data.IR [M, R = 2, N]: one impulse response per measurement and ear. The ear order comes
 *   from ReceiverPosition (the receiver with the larger y is the left ear; SOFA's y points
 *   left); without it receiver 0 is the left ear, as the convention says.
 * - Data.SamplingRate: one rate for the whole file (Hz).
 * - Data.Delay [1 or M, 2]: broadband delays in samples, folded into the IRs as leading zeros.
 * - SourcePosition [M, 3], spherical (degree, degree, metre) or cartesian (metre), minus
 *   ListenerPosition, seen from ListenerView/ListenerUp ([1, 3] or [M, 3]; default view +x, up
 *   +z): so every position is relative to the listener's head whatever frame the file used.
 *
 * Directions use SOFA's convention throughout Causeway: azimuth in degrees counter-clockwise
 * seen from above, 0 = straight ahead, 90 = left, 270 = right; elevation up from the horizontal
 * plane, -90..90; distance in metres.
 *
 * A file that is missing, truncated, not HDF5, HDF5 but not SOFA, or SOFA with shapes that do
 * not fit fails with a CausewayError naming the file and what is wrong.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { RealFft } from '../../kernels/fft.js';
import { Resampler, upfirdn } from '../../kernels/resample.js';
import { CausewayError } from '../errors.js';

/** The file Debian's libmysofa1 package installs: MIT's KEMAR, normal pinna, 710 directions at 1.4 m, 44.1 kHz. */
export const DEFAULT_SOFA = '/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa';

export interface Direction {
  /** Degrees counter-clockwise from straight ahead (90 = left). */
  azimuth: number;
  /** Degrees above the horizontal plane. */
  elevation: number;
  /** Metres. */
  distance: number;
}

export interface HrtfSet {
  /** Where it was read from (absolute path). */
  readonly file: string;
  readonly sampleRate: number;
  /** Taps of every IR. */
  readonly length: number;
  /** Per measurement, listener-relative. */
  readonly positions: readonly Direction[];
  readonly irs: readonly { readonly left: Float32Array; readonly right: Float32Array }[];
  /** What the file calls itself (ListenerShortName, DatabaseName or Title), for logs. */
  readonly name: string;
  /** The gain every IR was multiplied by at load (1 when not normalised). */
  readonly normalization: number;
}

/**
 * How the IRs of a set are scaled at load, all by one factor (relative levels between
 * directions and ears are kept):
 * - 'peak' (default, and `true`): the largest gain of any IR of the set at any frequency becomes
 *   0.99 (-0.09 dB), so no direction amplifies any frequency: a full-scale sine in steady state
 *   (an abrupt full-scale start or stop is a click that overshoots it: by 6.6% at worst for KEMAR), or full-scale noise, stays
 *   within full scale at every direction at 1 m (interpolated IRs are convex combinations and
 *   crossfades have equal gain, so they stay within it too). For MIT KEMAR this is 17 dB
 *   below 'frontal': the ipsilateral ear's resonances reach 7x the frontal level.
 * - 'frontal': the pair nearest straight ahead gets unit energy per ear on average. This is
 *   libmysofa's mysofa_loudness, which ffmpeg's sofalizer applies by default (normalize=1); it
 *   keeps a frontal source at the input's level and lets sources at the side clip.
 * - false: the IRs as the file holds them.
 */
export type HrtfNormalization = 'peak' | 'frontal' | false;

export interface LoadSofaOptions {
  /** See HrtfNormalization (default 'peak'; `true` means 'peak'). */
  normalize?: HrtfNormalization | boolean;
  /** Resample the IRs to this rate (Hz) when the file's rate differs. */
  sampleRate?: number;
}

type H5 = typeof import('h5wasm/node');
type H5File = InstanceType<H5['File']>;
let h5: Promise<H5['default']> | undefined;

/** h5wasm is loaded on first use: its WebAssembly module takes a moment to start and most programs never read a SOFA file. */
function h5wasm(): Promise<H5['default']> {
  h5 ??= import('h5wasm/node').then(async (mod) => {
    const lib = mod.default;
    const module = await lib.ready;
    // libhdf5 prints its error stack on stderr by default; this turns it into thrown errors we can word.
    module.activate_throwing_error_handler();
    return lib;
  });
  return h5;
}

function corrupt(file: string, what: string, cause?: unknown): CausewayError {
  return new CausewayError('corrupt-input', `SOFA file ${file}: ${what}`, cause === undefined ? undefined : { cause });
}

/** The most specific line of libhdf5's error stack ("file signature not found", "truncated file: ..."). */
function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const calls = [...text.matchAll(/#\d+: .* in \w+\(\): (.*)/g)].map((m) => m[1].trim());
  const minors = [...text.matchAll(/minor: (.*)/g)].map((m) => m[1].trim());
  return calls.at(-1) ?? minors.at(-1) ?? text.split('\n')[0];
}

interface Array2 {
  data: Float64Array;
  rows: number;
}

class SofaReader {
  constructor(readonly file: string, private readonly f: H5File) {}

  has(name: string): boolean {
    return this.f.keys().includes(name);
  }

  attr(name: string, dataset?: string): string | undefined {
    const holder = dataset === undefined ? this.f : this.f.get(dataset);
    const attrs = holder && 'attrs' in holder ? holder.attrs : undefined;
    const v = attrs?.[name]?.value;
    return typeof v === 'string' ? v : undefined;
  }

  /** A numeric dataset as float64, with its shape checked by `check` (returns a problem or undefined). */
  numbers(name: string, check: (shape: number[]) => string | undefined): { data: Float64Array; shape: number[] } {
    const d = this.f.get(name);
    if (!d || !('shape' in d) || !('dtype' in d)) throw corrupt(this.file, `no dataset '${name}'`);
    const shape = d.shape ?? [];
    const problem = check(shape);
    if (problem) throw corrupt(this.file, `${name} has shape [${shape.join(', ')}], ${problem}`);
    let v: unknown;
    try {
      v = d.value;
    } catch (e) {
      throw corrupt(this.file, `cannot read ${name} (${hdf5Reason(e)})`, e);
    }
    if (!ArrayBuffer.isView(v) || v instanceof DataView || v instanceof BigInt64Array || v instanceof BigUint64Array) {
      throw corrupt(this.file, `${name} is not numeric (dtype ${JSON.stringify(d.dtype)})`);
    }
    const data = Float64Array.from(v as unknown as ArrayLike<number>);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw corrupt(this.file, `${name} holds a non-finite value at index ${i}`);
    }
    return { data, shape };
  }

  /** [1 or M, 3] positions as cartesian metres, or undefined when absent; `fallback` when absent. */
  positions(name: string, m: number, fallback?: [number, number, number]): Array2 | undefined {
    if (!this.has(name)) return fallback ? { data: Float64Array.from(fallback), rows: 1 } : undefined;
    const { data, shape } = this.numbers(name, (s) =>
      s.length === 2 && s[1] === 3 && (s[0] === 1 || s[0] === m) ? undefined : `expected [1, 3] or [${m}, 3]`,
    );
    const type = (this.attr('Type', name) ?? 'cartesian').toLowerCase();
    if (type === 'cartesian') return { data, rows: shape[0] };
    if (type !== 'spherical') throw corrupt(this.file, `${name} has Type '${type}', expected 'spherical' or 'cartesian'`);
    const units = (this.attr('Units', name) ?? 'degree, degree, metre').toLowerCase();
    if (!/^\s*degrees?\s*,\s*degrees?\s*,\s*(metre|meter)s?\s*$/.test(units)) {
      throw corrupt(this.file, `${name} has Units '${units}', expected 'degree, degree, metre'`);
    }
    const out = new Float64Array(data.length);
    for (let i = 0; i < data.length; i += 3) {
      const [x, y, z] = toCartesian(data[i], data[i + 1], data[i + 2]);
      out[i] = x;
      out[i + 1] = y;
      out[i + 2] = z;
    }
    return { data: out, rows: shape[0] };
  }
}

const RAD = Math.PI / 180;

export function toCartesian(azimuth: number, elevation: number, distance: number): [number, number, number] {
  const ce = Math.cos(elevation * RAD);
  return [distance * ce * Math.cos(azimuth * RAD), distance * ce * Math.sin(azimuth * RAD), distance * Math.sin(elevation * RAD)];
}

/** Azimuth in [0, 360), elevation in [-90, 90], distance >= 0 of a cartesian point. */
export function toSpherical(x: number, y: number, z: number): Direction {
  const distance = Math.hypot(x, y, z);
  if (distance === 0) return { azimuth: 0, elevation: 0, distance: 0 };
  let azimuth = Math.atan2(y, x) / RAD;
  if (azimuth < 0) azimuth += 360;
  if (azimuth >= 360) azimuth -= 360;
  return { azimuth, elevation: Math.asin(Math.max(-1, Math.min(1, z / distance))) / RAD, distance };
}

function row(a: Array2, i: number): [number, number, number] {
  const r = a.rows === 1 ? 0 : i;
  return [a.data[3 * r], a.data[3 * r + 1], a.data[3 * r + 2]];
}

const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: number[], b: number[]): [number, number, number] => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
function unit(a: number[]): [number, number, number] {
  const n = Math.hypot(a[0], a[1], a[2]);
  return [a[0] / n, a[1] / n, a[2] / n];
}

/** Reads a SOFA file; see the file comment for what is read and checked. */
export async function loadSofa(path: string = DEFAULT_SOFA, options: LoadSofaOptions = {}): Promise<HrtfSet> {
  const file = resolve(path);
  if (!existsSync(file)) {
    const hint = file === DEFAULT_SOFA ? ' (Debian package libmysofa1; scripts/setup.sh installs it)' : '';
    throw new CausewayError('input-not-found', `SOFA file not found: ${file}${hint}`);
  }
  if (statSync(file).size === 0) throw new CausewayError('input-empty', `SOFA file ${file} is empty`);
  const lib = await h5wasm();
  let f: H5File;
  try {
    f = new lib.File(file, 'r');
  } catch (e) {
    throw corrupt(file, `not a readable HDF5 file (${hdf5Reason(e)})`, e);
  }
  try {
    return readSet(new SofaReader(file, f), options);
  } catch (e) {
    if (e instanceof CausewayError) throw e;
    throw corrupt(file, `unreadable (${hdf5Reason(e)})`, e);
  } finally {
    f.close();
  }
}

function readSet(r: SofaReader, options: LoadSofaOptions): HrtfSet {
  const file = r.file;
  const conventions = r.attr('Conventions');
  if (conventions !== 'SOFA') {
    throw corrupt(file, `HDF5 but not SOFA (its Conventions attribute is ${conventions === undefined ? 'missing' : `'${conventions}'`}, expected 'SOFA')`);
  }
  const dataType = r.attr('DataType') ?? 'FIR';
  if (!dataType.startsWith('FIR')) {
    throw corrupt(file, `DataType '${dataType}' (${r.attr('SOFAConventions') ?? 'unknown conventions'}) is not supported; Causeway reads impulse responses (DataType FIR)`);
  }
  const ir = r.numbers('Data.IR', (s) => (s.length === 3 && s[0] >= 1 && s[1] === 2 && s[2] >= 1 ? undefined : 'expected [M measurements, 2 ears, N taps]'));
  const [m, , n] = ir.shape;
  const rate = r.numbers('Data.SamplingRate', (s) => (s.length === 1 && (s[0] === 1 || s[0] === m) ? undefined : `expected [1] or [${m}]`)).data;
  const sampleRate = rate[0];
  if (!(sampleRate > 0) || rate.some((v) => v !== sampleRate)) throw corrupt(file, `Data.SamplingRate must be one positive rate, got ${Array.from(rate.slice(0, 4)).join(', ')}`);

  const source = r.positions('SourcePosition', m);
  if (!source) throw corrupt(file, "no dataset 'SourcePosition'");
  if (source.rows !== m) throw corrupt(file, `SourcePosition has ${source.rows} row(s) for ${m} measurements`);
  const listener = r.positions('ListenerPosition', m, [0, 0, 0])!;
  const view = r.positions('ListenerView', m, [1, 0, 0])!;
  const up = r.positions('ListenerUp', m, [0, 0, 1])!;

  // Ear order: SOFA's y axis points to the listener's left.
  let leftEar = 0;
  if (r.has('ReceiverPosition')) {
    const rp = r.numbers('ReceiverPosition', (s) => (s.length >= 2 && s[0] === 2 && s[1] === 3 ? undefined : 'expected [2, 3] or [2, 3, I]'));
    const stride = rp.data.length / 2;
    if (rp.data[1] < rp.data[stride + 1]) leftEar = 1;
  }

  let delays: Float64Array = new Float64Array(2);
  let delayRows = 1;
  if (r.has('Data.Delay')) {
    const d = r.numbers('Data.Delay', (s) => (s.length === 2 && s[1] === 2 && (s[0] === 1 || s[0] === m) ? undefined : `expected [1, 2] or [${m}, 2]`));
    delays = d.data;
    delayRows = d.shape[0];
    if (delays.some((v) => v < 0)) throw corrupt(file, 'Data.Delay holds a negative delay');
  }
  const delayOf = (i: number, ear: number) => Math.round(delays[(delayRows === 1 ? 0 : i) * 2 + ear]);
  let maxDelay = 0;
  for (let i = 0; i < delayRows; i++) maxDelay = Math.max(maxDelay, delayOf(i, 0), delayOf(i, 1));
  const length = n + maxDelay;

  const positions: Direction[] = [];
  const irs: { left: Float32Array; right: Float32Array }[] = [];
  for (let i = 0; i < m; i++) {
    const s = row(source, i);
    const l = row(listener, i);
    const rel = [s[0] - l[0], s[1] - l[1], s[2] - l[2]];
    // Listener frame: x' = view, z' = up made orthogonal to it, y' = z' x x' (to the left).
    const fx = unit(row(view, i));
    const u = row(up, i);
    const fz = unit([u[0] - dot(u, fx) * fx[0], u[1] - dot(u, fx) * fx[1], u[2] - dot(u, fx) * fx[2]]);
    const fy = cross(fz, fx);
    if (!fz.every(Number.isFinite)) throw corrupt(file, `ListenerView and ListenerUp are parallel (or zero) for measurement ${i}`);
    positions.push(toSpherical(dot(rel, fx), dot(rel, fy), dot(rel, fz)));
    const ears = [0, 1].map((k) => {
      const ear = k === 0 ? leftEar : 1 - leftEar;
      const h = new Float32Array(length);
      const at = (i * 2 + ear) * n;
      h.set(ir.data.subarray(at, at + n), delayOf(i, ear));
      return h;
    });
    irs.push({ left: ears[0], right: ears[1] });
  }

  let normalization = 1;
  const rule: HrtfNormalization = options.normalize === true || options.normalize === undefined ? 'peak' : options.normalize;
  if (rule === 'peak') {
    const peak = peakGain(irs, length);
    if (!(peak > 0)) throw corrupt(file, 'every impulse response is silent');
    normalization = PEAK_TARGET / peak;
    for (const pair of irs) for (const h of [pair.left, pair.right]) for (let t = 0; t < h.length; t++) h[t] *= normalization;
  } else if (rule === 'frontal') {
    // The measurement closest to straight ahead: largest x of the unit direction.
    let front = 0;
    let best = -Infinity;
    positions.forEach((p, i) => {
      const x = Math.cos(p.elevation * RAD) * Math.cos(p.azimuth * RAD);
      if (x > best) {
        best = x;
        front = i;
      }
    });
    let energy = 0;
    for (const h of [irs[front].left, irs[front].right]) for (let t = 0; t < h.length; t++) energy += h[t] * h[t];
    if (!(energy > 0)) throw corrupt(file, `the frontal measurement (${front}) is silent`);
    normalization = Math.sqrt(2 / energy);
    for (const pair of irs) for (const h of [pair.left, pair.right]) for (let t = 0; t < h.length; t++) h[t] *= normalization;
  }

  const name = r.attr('ListenerShortName') ?? r.attr('DatabaseName') ?? r.attr('Title') ?? file;
  const set: HrtfSet = { file, sampleRate, length, positions, irs, name, normalization };
  return options.sampleRate !== undefined && options.sampleRate !== sampleRate ? resampleHrtf(set, options.sampleRate) : set;
}

/**
 * The largest gain 'peak' leaves, just under 1: the 1% margin covers the FFT grid below (for
 * KEMAR the grid's maximum is 0.07% under the true one) and the ripple of the resampler that
 * brings the set to the render rate.
 */
const PEAK_TARGET = 0.99;

/**
 * The largest |H(f)| over every IR of the set, on an FFT grid 8x finer than the IR's length
 * (zero-padded), fine enough for the smooth responses of measured HRIRs.
 */
function peakGain(irs: readonly { left: Float32Array; right: Float32Array }[], length: number): number {
  let n = 4;
  while (n < 8 * length) n *= 2;
  const fft = new RealFft(n);
  const x = new Float32Array(n);
  const X = new Float32Array(n + 2);
  let peak = 0;
  for (const pair of irs) {
    for (const h of [pair.left, pair.right]) {
      x.fill(0);
      x.set(h);
      fft.forward(x, X);
      for (let k = 0; k <= n; k += 2) peak = Math.max(peak, Math.hypot(X[k]!, X[k + 1]!));
    }
  }
  return peak;
}

/**
 * The same set at another rate, each IR through kernels/resample's filter (80 dB Kaiser sinc)
 * with its group delay removed, so tap j is the original response at time j / toRate. The taps
 * are also scaled by fromRate / toRate: a tap is the continuous response times the sampling
 * period, so without it the filter's gain would change with the rate.
 */
export function resampleHrtf(set: HrtfSet, toRate: number): HrtfSet {
  if (!Number.isInteger(toRate) || toRate <= 0) throw new CausewayError('invalid-argument', `resampleHrtf: rate must be a positive integer (Hz), got ${toRate}`);
  if (toRate === set.sampleRate) return set;
  if (!Number.isInteger(set.sampleRate)) throw new CausewayError('invalid-argument', `resampleHrtf: ${set.file} has a non-integer rate ${set.sampleRate} Hz`);
  const r = new Resampler({ fromRate: set.sampleRate, toRate });
  const length = Math.ceil((set.length * toRate) / set.sampleRate);
  const scale = set.sampleRate / toRate;
  const one = (h: Float32Array): Float32Array => {
    const full = upfirdn(h, r.filter, r.up, r.down);
    const out = new Float32Array(length);
    for (let j = 0; j < length; j++) out[j] = (full[j + r.delay] ?? 0) * scale;
    return out;
  };
  return { ...set, sampleRate: toRate, length, irs: set.irs.map((p) => ({ left: one(p.left), right: one(p.right) })) };
}
