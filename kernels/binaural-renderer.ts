/**
 * Binaural rendering of a mono source through head-related impulse responses (HRIRs), with a
 * position that may move while it plays. Mono in, interleaved stereo (left, right) out.
 *
 * Per block of B samples:
 *  1. the block enters one frequency-domain delay line (one forward FFT, shared by every filter);
 *  2. the position glides one step toward its target (`PositionGlide`: exponential approach
 *     along the great circle, time constant `smoothingMs`, distance alongside) and, if it moved,
 *     the HRIR pair for the new direction is fetched from the `HrirSource`, scaled by the
 *     distance gain and partitioned (P FFTs per ear);
 *  3. each ear is the partitioned overlap-save convolution of the delay line with its filter.
 *     In a block where the filter changed, the block is rendered with both the old and the new
 *     filters and crossfaded over the block (raised cosine, equal gain: both outputs come from
 *     the same input through similar filters, so they add coherently and equal gain keeps the
 *     level; equal power would bump it). The delay line holds the input history, so the new
 *     filter's output is already exact in its first block: nothing restarts, nothing clicks.
 *
 * Position changes (`setPosition`) are targets, taken at the next block boundary: a call made
 * after `at` input samples were pushed is first seen by block floor(at / B). Latency is B
 * samples exactly (pushes return one stereo sample per mono sample, the first B are zeros);
 * flush() returns the remaining B + L - 1 stereo samples. `binauralOffline` is the same maths
 * with direct convolution, for the streaming == offline tests.
 *
 * Steps 1 and 3 (and the partitioning in 2) run in WebAssembly SIMD by default
 * (kernels/wasm/pconv.wat, float32, 5-8x faster: `npm run bench -- binaural`); `engine: 'js'` runs
 * them over kernels/partitioned-conv instead. Where the WebAssembly one cannot start, the
 * renderer runs the JavaScript one and says why in `engineFallback`.
 *
 * Directions follow SOFA (AES69): azimuth in degrees counter-clockwise seen from above
 * (0 ahead, 90 left, 270 right), elevation up; distance in metres, gain 1 / distance relative
 * to 1 m (the HRIRs as given), capped at 1 / minDistance. Distance changes only the gain: no
 * propagation delay, so a source moving in depth has no Doppler shift.
 */
import { OutputBuffer } from './output-buffer.js';
import { FrequencyDelayLine, PartitionPlan } from './partitioned-conv.js';
import { WasmPartitionedPair } from './wasm/pconv.js';

export interface HrirSource {
  /** Taps of every HRIR the source writes. */
  readonly length: number;
  /** Writes the left and right HRIRs for a direction (degrees, SOFA convention) into arrays of `length`. */
  hrir(azimuth: number, elevation: number, left: Float32Array, right: Float32Array): void;
}

export interface SourcePosition {
  azimuth: number;
  elevation: number;
  distance: number;
}

export interface BinauralRendererOptions {
  source: HrirSource;
  sampleRate: number;
  /** Block size B, a power of two (default 128): the latency and the granularity of position updates. */
  blockSize?: number;
  /** Initial position (default azimuth 0, elevation 0, distance 1). */
  position?: Partial<SourcePosition>;
  /** Time constant of the glide toward a new target, ms (default 20; 0 jumps at the next block, still crossfaded). */
  smoothingMs?: number;
  /** Crossfade old and new filters over the block where they change (default true; false switches hard, for comparison). */
  crossfade?: boolean;
  /** Distances below this (metres, default 0.25) get its gain, so a source at the head does not blow up. */
  minDistance?: number;
  /**
   * Which code runs each block's FFTs and spectrum products: 'wasm' (default), WebAssembly SIMD
   * in float32 (kernels/wasm/pconv.wat); 'js', JavaScript with float64 FFT arithmetic and float32
   * spectra (the reference the benchmark compares). Outputs agree within ~3e-7 of their peak.
   */
  engine?: 'wasm' | 'js';
}

const RAD = Math.PI / 180;
/** Closer than this (radians, ~0.06 degree) the glide lands on the target. */
const SNAP_RAD = 1e-3;

export function distanceGain(distance: number, minDistance = 0.25): number {
  return 1 / Math.max(distance, minDistance);
}

function checkPosition(p: Partial<SourcePosition>, who: string): void {
  for (const k of ['azimuth', 'elevation', 'distance'] as const) {
    const v = p[k];
    if (v !== undefined && !Number.isFinite(v)) throw new Error(`${who}: ${k} must be a finite number, got ${v}`);
  }
  if (p.elevation !== undefined && Math.abs(p.elevation) > 90) throw new Error(`${who}: elevation must be in [-90, 90] degrees, got ${p.elevation}`);
  if (p.distance !== undefined && !(p.distance > 0)) throw new Error(`${who}: distance must be > 0 metres, got ${p.distance}`);
}

/**
 * Where the source is, and where it is going: each step() moves the direction a fraction
 * alpha of the remaining great-circle angle (and the distance a fraction alpha of the
 * remaining difference), landing exactly on the target once within ~0.06 degree.
 */
export class PositionGlide {
  private cur: SourcePosition;
  private tgt: SourcePosition;
  private settled = true;

  constructor(initial: SourcePosition, private readonly alpha: number) {
    this.cur = { ...initial };
    this.tgt = { ...initial };
  }

  get current(): SourcePosition {
    return this.cur;
  }

  get target(): SourcePosition {
    return this.tgt;
  }

  setTarget(p: Partial<SourcePosition>): void {
    this.tgt = { azimuth: p.azimuth ?? this.tgt.azimuth, elevation: p.elevation ?? this.tgt.elevation, distance: p.distance ?? this.tgt.distance };
    this.settled = false;
  }

  /** One block's move; true when the current position changed. */
  step(): boolean {
    if (this.settled) return false;
    const c = unitOf(this.cur);
    const t = unitOf(this.tgt);
    const cos = Math.max(-1, Math.min(1, c[0] * t[0] + c[1] * t[1] + c[2] * t[2]));
    const angle = Math.acos(cos);
    const logRatio = Math.log(this.tgt.distance / this.cur.distance);
    const before = this.cur;
    if (this.alpha >= 1 || (angle < SNAP_RAD && Math.abs(logRatio) < 1e-3)) {
      this.cur = { ...this.tgt };
      this.settled = true;
      return before.azimuth !== this.cur.azimuth || before.elevation !== this.cur.elevation || before.distance !== this.cur.distance;
    }
    // Slerp: rotate c toward t in their common plane by alpha * angle. Opposite directions have
    // no common plane; turn left about the vertical then (or toward +x from a pole).
    let w: number[];
    if (Math.sin(angle) > 1e-9) {
      w = [t[0] - cos * c[0], t[1] - cos * c[1], t[2] - cos * c[2]];
    } else {
      w = Math.hypot(c[0], c[1]) > 1e-9 ? [-c[1], c[0], 0] : [1, 0, 0];
    }
    const wn = Math.hypot(w[0], w[1], w[2]);
    const a = this.alpha * angle;
    const ca = Math.cos(a), sa = Math.sin(a) / wn;
    const v = [c[0] * ca + w[0] * sa, c[1] * ca + w[1] * sa, c[2] * ca + w[2] * sa];
    const distance = this.cur.distance * Math.exp(this.alpha * logRatio);
    this.cur = { ...directionOf(v[0], v[1], v[2]), distance };
    return true;
  }

  reset(p: SourcePosition): void {
    this.cur = { ...p };
    this.tgt = { ...p };
    this.settled = true;
  }
}

function unitOf(p: SourcePosition): [number, number, number] {
  const ce = Math.cos(p.elevation * RAD);
  return [ce * Math.cos(p.azimuth * RAD), ce * Math.sin(p.azimuth * RAD), Math.sin(p.elevation * RAD)];
}

function directionOf(x: number, y: number, z: number): { azimuth: number; elevation: number } {
  const len = Math.hypot(x, y, z);
  let azimuth = Math.atan2(y, x) / RAD;
  if (azimuth < 0) azimuth += 360;
  return { azimuth, elevation: Math.asin(Math.max(-1, Math.min(1, z / len))) / RAD };
}

interface Resolved {
  source: HrirSource;
  blockSize: number;
  position: SourcePosition;
  alpha: number;
  crossfade: boolean;
  minDistance: number;
  engine: 'wasm' | 'js';
}

function resolve(o: BinauralRendererOptions, who: string): Resolved {
  const blockSize = o.blockSize ?? 128;
  if (!Number.isInteger(blockSize) || blockSize < 4 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`${who}: blockSize must be a power of two >= 4, got ${blockSize}`);
  if (!(o.sampleRate > 0)) throw new Error(`${who}: sampleRate must be positive, got ${o.sampleRate}`);
  if (!(o.source.length >= 1)) throw new Error(`${who}: the HRIR source must have at least one tap`);
  const smoothingMs = o.smoothingMs ?? 20;
  if (!(smoothingMs >= 0)) throw new Error(`${who}: smoothingMs must be >= 0, got ${smoothingMs}`);
  const minDistance = o.minDistance ?? 0.25;
  if (!(minDistance > 0)) throw new Error(`${who}: minDistance must be > 0, got ${minDistance}`);
  const p = o.position ?? {};
  checkPosition(p, who);
  const position = { azimuth: p.azimuth ?? 0, elevation: p.elevation ?? 0, distance: p.distance ?? 1 };
  const alpha = smoothingMs === 0 ? 1 : 1 - Math.exp(-blockSize / ((smoothingMs / 1000) * o.sampleRate));
  const engine = o.engine ?? 'wasm';
  if (engine !== 'wasm' && engine !== 'js') throw new Error(`${who}: engine must be 'wasm' or 'js', got ${String(engine)}`);
  return { source: o.source, blockSize, position, alpha, crossfade: o.crossfade ?? true, minDistance, engine };
}

/** ramp[j] = sin^2(pi/2 * (j + 1) / B): the new filter's share at sample j of a crossfade block, reaching 1 on its last sample. */
function crossfadeRamp(b: number): Float32Array {
  const w = new Float32Array(b);
  for (let j = 0; j < b; j++) w[j] = Math.sin((Math.PI / 2) * ((j + 1) / b)) ** 2;
  return w;
}

/**
 * The convolution side of a renderer: one delay line, two slots of filter pairs (the filters in
 * use and the previous ones), the block being filled and the last block's stereo output. A push
 * of n samples is begin(input), exchanges block segment by block segment (render() at each full
 * block), then output(n).
 */
interface PairEngine {
  /** Where the HRIR source writes the pair that load() partitions (read again after each begin()). */
  readonly hl: Float32Array;
  readonly hr: Float32Array;
  /** Partitions gain * (hl, hr) into filter slot `slot`. */
  load(slot: number, gain: number): void;
  /** Takes a chunk's input for the exchanges that follow. */
  begin(input: Float32Array): void;
  /** Input [at, at + count) into the block from sample `fill`; the last block's stereo output from `fill` into the chunk's output from `at`. */
  exchange(at: number, fill: number, count: number): void;
  /** The full block through slot `slot`, crossfaded from the other slot when `fade`. */
  render(slot: number, fade: boolean): void;
  /** The chunk's output, 2n floats, reused by the next chunk. */
  output(n: number): Float32Array;
  /** Empty history and output; the filters are left as they are. */
  reset(): void;
}

const NO_INPUT = new Float32Array(0);

/** PairEngine in JavaScript, over kernels/partitioned-conv. */
class JsPair implements PairEngine {
  readonly hl: Float32Array;
  readonly hr: Float32Array;
  private readonly plan: PartitionPlan;
  private readonly fdl: FrequencyDelayLine;
  /** Slot s holds [left, right]. */
  private readonly filters: Float32Array[][];
  private readonly spectra: Float32Array[];
  private readonly newOut: Float32Array[];
  private readonly oldOut: Float32Array[];
  private readonly block: Float32Array;
  /** The last block's output, interleaved. */
  private readonly ready: Float32Array;
  /** The chunk being pushed (the caller's array, dropped at output()). */
  private input: Float32Array = NO_INPUT;
  private readonly out = new OutputBuffer(2 * 4096);

  constructor(b: number, filterLength: number, private readonly ramp: Float32Array) {
    this.plan = new PartitionPlan({ blockSize: b, maxFilterLength: filterLength });
    this.fdl = new FrequencyDelayLine(this.plan);
    this.filters = [0, 1].map(() => [this.plan.newFilter(), this.plan.newFilter()]);
    this.hl = new Float32Array(filterLength);
    this.hr = new Float32Array(filterLength);
    this.spectra = [new Float32Array(this.plan.spectrumSize), new Float32Array(this.plan.spectrumSize)];
    this.newOut = [new Float32Array(b), new Float32Array(b)];
    this.oldOut = [new Float32Array(b), new Float32Array(b)];
    this.block = new Float32Array(b);
    this.ready = new Float32Array(2 * b);
  }

  load(slot: number, gain: number): void {
    this.plan.setFilter(this.filters[slot][0], this.hl, gain);
    this.plan.setFilter(this.filters[slot][1], this.hr, gain);
  }

  begin(input: Float32Array): void {
    this.input = input;
    this.out.ensure(2 * input.length);
  }

  exchange(at: number, fill: number, count: number): void {
    const { input, block, ready } = this;
    const out = this.out.data;
    for (let j = 0; j < count; j++) {
      block[fill + j] = input[at + j];
      out[2 * (at + j)] = ready[2 * (fill + j)];
      out[2 * (at + j) + 1] = ready[2 * (fill + j) + 1];
    }
  }

  output(n: number): Float32Array {
    this.input = NO_INPUT;
    return this.out.view(2 * n);
  }

  render(slot: number, fade: boolean): void {
    this.fdl.pushBlock(this.block);
    const b = this.block.length;
    this.convolve(slot, this.newOut);
    const [nl, nr] = this.newOut;
    const ready = this.ready;
    if (fade) {
      this.convolve(1 - slot, this.oldOut);
      const [ol, or] = this.oldOut;
      const w = this.ramp;
      for (let j = 0; j < b; j++) {
        ready[2 * j] = ol[j] + w[j] * (nl[j] - ol[j]);
        ready[2 * j + 1] = or[j] + w[j] * (nr[j] - or[j]);
      }
    } else {
      for (let j = 0; j < b; j++) {
        ready[2 * j] = nl[j];
        ready[2 * j + 1] = nr[j];
      }
    }
  }

  reset(): void {
    this.fdl.reset();
    this.block.fill(0);
    this.ready.fill(0);
  }

  /** Both ears through the filters in `slot`, for the block now in the delay line. */
  private convolve(slot: number, outs: Float32Array[]): void {
    const [sl, sr] = this.spectra;
    this.plan.accumulatePair(this.fdl, this.filters[slot][0], sl, this.filters[slot][1], sr);
    this.plan.inverse(sl, outs[0]);
    this.plan.inverse(sr, outs[1]);
  }
}

export class BinauralRenderer {
  readonly latency: number;
  readonly blockSize: number;
  readonly filterLength: number;
  /** The engine in use: the one asked for, or 'js' when the WebAssembly one could not start (`engineFallback` says why). */
  readonly engine: 'wasm' | 'js';
  readonly engineFallback: string | undefined;
  private readonly o: Resolved;
  private readonly pair: PairEngine;
  private readonly glide: PositionGlide;
  /** The filter slot in use; the other one holds the previous filters. */
  private cur = 0;
  private fill = 0;
  private readonly tail: Float32Array;
  /** Blocks rendered. */
  blocks = 0;

  constructor(options: BinauralRendererOptions) {
    this.o = resolve(options, 'BinauralRenderer');
    const b = this.o.blockSize;
    this.blockSize = b;
    this.latency = b;
    this.filterLength = this.o.source.length;
    const ramp = crossfadeRamp(b);
    let pair: PairEngine | undefined;
    if (this.o.engine === 'wasm') {
      try {
        pair = new WasmPartitionedPair(b, this.filterLength, ramp);
      } catch (e) {
        // No WebAssembly (node --jitless), or no address space for another memory (after some
        // thousands of live instances): the same maths, slower.
        this.engineFallback = (e as Error).message;
      }
    }
    this.pair = pair ?? new JsPair(b, this.filterLength, ramp);
    this.engine = pair !== undefined ? 'wasm' : 'js';
    this.glide = new PositionGlide(this.o.position, this.o.alpha);
    this.tail = new Float32Array(b + this.filterLength - 1);
    this.loadFilters(this.cur, this.o.position);
  }

  /** The position the source is at now (it glides toward the last target set). */
  get position(): SourcePosition {
    return this.glide.current;
  }

  /** Sets the target position (fields left out keep their value); taken at the next block boundary. */
  setPosition(p: Partial<SourcePosition>): void {
    checkPosition(p, 'BinauralRenderer.setPosition');
    this.glide.setTarget(p);
  }

  /** n mono samples in, n stereo samples out (interleaved, 2n floats), delayed by B; reused by the next call. */
  push(input: Float32Array): Float32Array {
    const n = input.length;
    const b = this.blockSize;
    const pair = this.pair;
    pair.begin(input);
    let i = 0;
    while (i < n) {
      const m = Math.min(b - this.fill, n - i);
      pair.exchange(i, this.fill, m);
      this.fill += m;
      i += m;
      if (this.fill === b) {
        this.renderBlock();
        this.fill = 0;
      }
    }
    return pair.output(n);
  }

  /** Ends the stream: the last B + L - 1 stereo samples (input taken as zero), then resets. */
  flush(): Float32Array {
    this.tail.fill(0);
    const rest = this.push(this.tail).slice();
    this.reset();
    return rest;
  }

  /** Back to the state after construction (initial position, empty history). */
  reset(): void {
    this.pair.reset();
    this.glide.reset(this.o.position);
    this.cur = 0;
    this.loadFilters(0, this.o.position);
    this.fill = 0;
    this.blocks = 0;
  }

  private loadFilters(slot: number, p: SourcePosition): void {
    this.o.source.hrir(p.azimuth, p.elevation, this.pair.hl, this.pair.hr);
    this.pair.load(slot, distanceGain(p.distance, this.o.minDistance));
  }

  private renderBlock(): void {
    let fade = false;
    if (this.glide.step()) {
      this.cur = 1 - this.cur;
      this.loadFilters(this.cur, this.glide.current);
      fade = this.o.crossfade;
    }
    this.pair.render(this.cur, fade);
    this.blocks++;
  }
}

export interface PositionChange {
  /** Input samples pushed before setPosition was called. */
  at: number;
  position: Partial<SourcePosition>;
}

/**
 * What BinauralRenderer returns (pushes + flush, interleaved) for input x with setPosition
 * called after `at` samples for each change, computed block by block with direct convolution
 * in float64 and the same glide and crossfade.
 */
export function binauralOffline(x: Float32Array, options: BinauralRendererOptions, changes: readonly PositionChange[] = []): Float32Array {
  const o = resolve(options, 'binauralOffline');
  const b = o.blockSize;
  const len = o.source.length;
  const total = x.length + b + len - 1;
  const out = new Float32Array(2 * total);
  const glide = new PositionGlide(o.position, o.alpha);
  const pending = [...changes].sort((p, q) => p.at - q.at);
  const filtersAt = (p: SourcePosition): Float64Array[] => {
    const l = new Float32Array(len), r = new Float32Array(len);
    o.source.hrir(p.azimuth, p.elevation, l, r);
    const g = distanceGain(p.distance, o.minDistance);
    return [Float64Array.from(l, (v) => v * g), Float64Array.from(r, (v) => v * g)];
  };
  const conv = (h: Float64Array, t: number): number => {
    let acc = 0;
    const iMax = Math.min(h.length - 1, t);
    for (let i = Math.max(0, t - x.length + 1); i <= iMax; i++) acc += h[i] * x[t - i];
    return acc;
  };
  const ramp = crossfadeRamp(b);
  let cur = filtersAt(o.position);
  let next = 0;
  // Block k renders input times [kB, kB + B) and is emitted at output times [(k + 1)B, (k + 2)B).
  for (let k = 0; (k + 1) * b < total; k++) {
    while (next < pending.length && pending[next].at < (k + 1) * b) {
      checkPosition(pending[next].position, 'binauralOffline');
      glide.setTarget(pending[next++].position);
    }
    let old: Float64Array[] | undefined;
    if (glide.step()) {
      old = o.crossfade ? cur : undefined;
      cur = filtersAt(glide.current);
    }
    for (let j = 0; j < b && (k + 1) * b + j < total; j++) {
      const t = k * b + j;
      const at = 2 * ((k + 1) * b + j);
      for (let ear = 0; ear < 2; ear++) {
        const y = conv(cur[ear], t);
        out[at + ear] = old ? conv(old[ear], t) + ramp[j] * (y - conv(old[ear], t)) : y;
      }
    }
  }
  return out;
}
