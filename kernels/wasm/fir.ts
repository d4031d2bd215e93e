/**
 * The resampler's inner loop in WebAssembly SIMD (source: fir.wat beside this file): the same
 * polyphase dot products as the JavaScript loop, 8 lanes at a time, 5-8x faster on this machine
 * (`npm run bench -- kernels`). Each FIR owns one small WebAssembly memory holding, in order,
 * 16 bytes of scratch (the loop's final phase and input index), the phases, the history+input
 * buffer and the output; the Float32Array views into it are rebuilt whenever it grows.
 */
import { FIR_WASM_BASE64 } from './fir-bytes.js';
import { WASM_PAGE, align16, instantiate, type WasmMemory } from './module.js';

type RunFn = (
  ph: number, taps: number, up: number, buf: number, out: number,
  c: number, limit: number, p: number, r: number, stepWhole: number, stepFrac: number,
) => number;

const SCRATCH = 16;
const I32_MAX = 2 ** 31 - 1;

export class WasmFir {
  private readonly memory: WasmMemory;
  private readonly runFn: RunFn;
  private readonly phPtr = SCRATCH;
  private readonly bufPtr: number;
  private bufCap: number;
  private outPtr = 0;
  private outCap: number;
  private state!: Int32Array;
  /** The history+input buffer and the output, as views into the memory (valid until it grows). */
  buf!: Float32Array;
  out!: Float32Array;
  private outViews: (Float32Array | undefined)[] = [];
  /** Phase and newest-input index after the last run. */
  p = 0;
  r = 0;

  constructor(
    phases: Float32Array,
    private readonly taps: number,
    private readonly up: number,
    private readonly stepWhole: number,
    private readonly stepFrac: number,
    bufLength: number,
    outLength: number,
  ) {
    const exports = instantiate(FIR_WASM_BASE64, "Resampler: this runtime cannot run the WebAssembly SIMD kernel (Node >= 16 can); pass engine: 'js' to use the JavaScript loop");
    this.memory = exports.memory as WasmMemory;
    this.runFn = exports.run as RunFn;
    this.bufPtr = align16(this.phPtr + phases.length * 4);
    this.bufCap = bufLength;
    this.outCap = outLength;
    this.layout();
    new Float32Array(this.memory.buffer, this.phPtr, phases.length).set(phases);
  }

  /** Room for `bufLength` buffer and `outLength` output samples; the buffer's contents are kept. */
  reserve(bufLength: number, outLength: number): void {
    if (bufLength <= this.bufCap && outLength <= this.outCap) return;
    this.bufCap = Math.max(this.bufCap, bufLength);
    this.outCap = Math.max(this.outCap, outLength);
    this.layout();
  }

  /** The first `len` outputs, one view per length so steady-state calls allocate nothing. */
  view(len: number): Float32Array {
    let v = this.outViews[len];
    if (v === undefined) {
      v = this.out.subarray(0, len);
      this.outViews[len] = v;
    }
    return v;
  }

  /** Runs the loop from phase p and input index r over c new inputs; returns the output count. */
  run(c: number, limit: number, p: number, r: number): number {
    const count = this.runFn(
      this.phPtr, this.taps, this.up, this.bufPtr, this.outPtr,
      c, Math.min(limit, I32_MAX), p, r, this.stepWhole, this.stepFrac,
    );
    this.p = this.state[0];
    this.r = this.state[1];
    return count;
  }

  /** Places the output after the buffer, grows the memory to fit (the buffer does not move) and rebuilds the views. */
  private layout(): void {
    this.outPtr = align16(this.bufPtr + this.bufCap * 4);
    const need = this.outPtr + this.outCap * 4;
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / WASM_PAGE));
    const mem = this.memory.buffer;
    this.state = new Int32Array(mem, 0, 2);
    this.buf = new Float32Array(mem, this.bufPtr, this.bufCap);
    this.out = new Float32Array(mem, this.outPtr, this.outCap);
    this.outViews = [];
  }
}
