/**
 * The binaural renderer's block in WebAssembly SIMD (source: pconv.wat beside this file): the
 * input block's real FFT into a frequency-domain delay line, the products with a pair of filters
 * (two ears) summed over the partitions, both inverse FFTs and the stereo interleave, and in a
 * block where the filters changed the same through the previous pair and the crossfade. The
 * maths of kernels/partitioned-conv.ts in float32 (FFT twiddles computed in float64, then
 * rounded). Pushes move samples in and out of the memory through WebAssembly too (a staging
 * area for the chunk's input and one for its output). One instance owns one WebAssembly memory;
 * it grows only when a chunk outgrows the staging areas, and the views are then rebuilt.
 */
import { PCONV_WASM_BASE64 } from './pconv-bytes.js';
import { WASM_PAGE, align16, instantiate, type WasmMemory } from './module.js';

type BlockFn = (r: number, hl: number, hr: number, fade: number, ol: number, or: number) => void;
type FilterFn = (h: number, len: number, gain: number, dst: number) => void;
type CopyFn = (dst: number, src: number, n: number) => void;

/** Bytes of the layout table that setup() reads: 16 i32. */
const TABLE = 64;

export class WasmPartitionedPair {
  readonly blockSize: number;
  readonly partitions: number;
  /** The HRIR pair for load(), written by the caller (filterLength taps each); views rebuilt when the memory grows. */
  hl!: Float32Array;
  hr!: Float32Array;
  private readonly memory: WasmMemory;
  private readonly blockFn: BlockFn;
  private readonly filterFn: FilterFn;
  private readonly copyFn: CopyFn;
  private readonly filterLength: number;
  private readonly framePtr: number;
  private readonly fdlPtr: number;
  private readonly fdlFloats: number;
  private readonly readyPtr: number;
  private readonly hlPtr: number;
  private readonly hrPtr: number;
  /** Staging: a chunk's input (cap floats), then its stereo output (2 cap floats). */
  private readonly stagePtr: number;
  private outPtr = 0;
  private cap = 0;
  private frame!: Float32Array;
  private fdl!: Float32Array;
  private ready!: Float32Array;
  private stage!: Float32Array;
  private out!: Float32Array;
  private outViews: (Float32Array | undefined)[] = [];
  /** Filter spectra: slot s, ear e at filters[2s + e] (P packed spectra of 2B floats each). */
  private readonly filters: number[];
  private ring = 0;

  /** `ramp`: the crossfade's new-filter share at each of the B samples of a block. */
  constructor(blockSize: number, filterLength: number, ramp: Float32Array) {
    const m = blockSize;
    if (!Number.isInteger(m) || m < 4 || (m & (m - 1)) !== 0) throw new Error(`WasmPartitionedPair: blockSize must be a power of two >= 4, got ${m}`);
    if (!Number.isInteger(filterLength) || filterLength < 1) throw new Error(`WasmPartitionedPair: filterLength must be a positive integer, got ${filterLength}`);
    const P = Math.ceil(filterLength / m);
    this.blockSize = m;
    this.partitions = P;
    this.filterLength = filterLength;
    const exports = instantiate(PCONV_WASM_BASE64, "BinauralRenderer: this runtime cannot run the WebAssembly SIMD kernel (Node >= 16 can); pass engine: 'js' to use the JavaScript one");
    this.memory = exports.memory as WasmMemory;
    this.blockFn = exports.block as BlockFn;
    this.filterFn = exports.filter as FilterFn;
    this.copyFn = exports.copy as CopyFn;

    // Regions in the order of the table in pconv.wat; each starts 16-byte aligned.
    let at = TABLE;
    const take = (bytes: number): number => {
      const p = at;
      at = align16(at + bytes);
      return p;
    };
    const work = 8 * (m + 4);
    const spec = 8 * m;
    const rev = take(4 * (m / 4));
    const tw = take(8 * Math.max(0, m - 4));
    const sw = take(8 * m);
    const zbuf = take(work);
    const workL = take(work);
    const workR = take(work);
    const accL = take(work);
    const accR = take(work);
    this.framePtr = take(8 * m);
    const pad = take(8 * m);
    this.fdlPtr = take(2 * P * spec);
    this.fdlFloats = (2 * P * spec) / 4;
    this.filters = [0, 1, 2, 3].map(() => take(P * spec));
    const rampPtr = take(8 * m);
    this.readyPtr = take(8 * m);
    const old = take(8 * m);
    this.hlPtr = take(4 * filterLength);
    this.hrPtr = take(4 * filterLength);
    this.stagePtr = at;
    this.reserve(4096);
    const mem = this.memory.buffer;

    new Int32Array(mem, 0, 16).set([m, P, rev, tw, sw, zbuf, workL, workR, accL, accR, this.framePtr, pad, this.fdlPtr, rampPtr, this.readyPtr, old]);
    const bits = Math.log2(m);
    const revs = new Int32Array(mem, rev, m / 4);
    for (let g = 0; g < m / 4; g++) {
      let r = 0;
      for (let b = 0, v = 4 * g; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      revs[g] = r;
    }
    const stage = new Float32Array(mem, tw, 2 * Math.max(0, m - 4));
    for (let h = 4, off = 0; h < m; off += 2 * h, h <<= 1) {
      for (let j = 0; j < h; j++) {
        const a = (-Math.PI * j) / h;
        stage[off + j] = Math.cos(a);
        stage[off + h + j] = Math.sin(a);
      }
    }
    const split = new Float32Array(mem, sw, 2 * m);
    for (let k = 0; k < m; k++) {
      const a = (-Math.PI * k) / m;
      split[k] = 0.5 * Math.cos(a);
      split[m + k] = 0.5 * Math.sin(a);
    }
    const interleavedRamp = new Float32Array(mem, rampPtr, 2 * m);
    for (let j = 0; j < m; j++) interleavedRamp[2 * j] = interleavedRamp[2 * j + 1] = ramp[j];
    (exports.setup as (at: number) => void)(0);
  }

  /** Partitions gain * (hl, hr) into filter slot `slot` (0 or 1). */
  load(slot: number, gain: number): void {
    this.filterFn(this.hlPtr, this.filterLength, gain, this.filters[2 * slot]);
    this.filterFn(this.hrPtr, this.filterLength, gain, this.filters[2 * slot + 1]);
  }

  /** Stages a chunk's input for exchange(). */
  begin(input: Float32Array): void {
    this.reserve(input.length);
    this.stage.set(input);
  }

  /** Staged input [at, at + count) into the block from sample `fill`; the last block's output from `fill` into the chunk's output from `at`. */
  exchange(at: number, fill: number, count: number): void {
    this.copyFn(this.framePtr + 4 * (this.blockSize + fill), this.stagePtr + 4 * at, count);
    this.copyFn(this.outPtr + 8 * at, this.readyPtr + 8 * fill, 2 * count);
  }

  /** The chunk's output, 2n floats; one view per length, valid until the next begin(). */
  output(n: number): Float32Array {
    let v = this.outViews[n];
    if (v === undefined) {
      v = this.out.subarray(0, 2 * n);
      this.outViews[n] = v;
    }
    return v;
  }

  /** Renders the filled block (into the output exchange() reads) through slot `slot`, crossfaded from the other slot when `fade`. */
  render(slot: number, fade: boolean): void {
    const f = this.filters;
    this.blockFn(this.ring, f[2 * slot], f[2 * slot + 1], fade ? 1 : 0, f[2 - 2 * slot], f[3 - 2 * slot]);
    this.ring = this.ring + 1 === this.partitions ? 0 : this.ring + 1;
  }

  /** Empty history and output (the filters are kept: reload them as needed). */
  reset(): void {
    this.frame.fill(0);
    this.fdl.fill(0);
    this.ready.fill(0);
    this.ring = 0;
  }

  /** Staging for chunks of n samples: grows the memory when needed (it never shrinks) and rebuilds the views. */
  private reserve(n: number): void {
    if (n <= this.cap) return;
    const cap = Math.max(n, 2 * this.cap);
    this.outPtr = align16(this.stagePtr + 4 * cap);
    const need = this.outPtr + 8 * cap;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / WASM_PAGE));
    this.cap = cap;
    const mem = this.memory.buffer;
    const m = this.blockSize;
    this.frame = new Float32Array(mem, this.framePtr, 2 * m);
    this.fdl = new Float32Array(mem, this.fdlPtr, this.fdlFloats);
    this.ready = new Float32Array(mem, this.readyPtr, 2 * m);
    this.hl = new Float32Array(mem, this.hlPtr, this.filterLength);
    this.hr = new Float32Array(mem, this.hrPtr, this.filterLength);
    this.stage = new Float32Array(mem, this.stagePtr, cap);
    this.out = new Float32Array(mem, this.outPtr, 2 * cap);
    this.outViews = [];
  }
}
