/**
 * Compiling and instantiating the kernels' WebAssembly modules (their bytes ship as base64 in
 * the *-bytes.ts files beside their .wat sources). Each module compiles once per process; each
 * kernel instance gets its own instance and memory.
 */

/** The slice of the WebAssembly API used here (lib ES2022 has no WebAssembly types; @types/node declares only part of it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const WASM_PAGE = 65536;

const compiled = new Map<string, object>();

/**
 * A new instance of the module in `base64`, its exports. Throws where the runtime has no
 * WebAssembly, or cannot run these bytes (no SIMD); `refusal` is that second message, naming the
 * kernel and its way out.
 */
export function instantiate(base64: string, refusal: string): Record<string, unknown> {
  if (wasmApi === undefined) throw new Error('this runtime has no WebAssembly (node --jitless?)');
  let module = compiled.get(base64);
  if (module === undefined) {
    const bin = atob(base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    if (!wasmApi.validate(bytes)) throw new Error(refusal);
    module = new wasmApi.Module(bytes);
    compiled.set(base64, module);
  }
  return new wasmApi.Instance(module, {}).exports;
}

export function align16(n: number): number {
  return (n + 15) & ~15;
}
