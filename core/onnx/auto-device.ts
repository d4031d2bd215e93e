/**
 * device 'auto': where a model's steps run is decided by measured cost, per batch size, not by
 * preference. At load, each candidate device that starts and passes the device check runs the
 * model's probe step at batch 1, 2, 4, ... up to maxBatch, and so does the CPU; batches from the
 * smallest size at which the device is faster at every larger measured size run on the device,
 * smaller ones (a lone stream's step) on the CPU. A device faster nowhere is released.
 *
 * Candidates: CUDA (tried always; when its libraries are not installed that is one log line and
 * `causeway_provider_fallbacks_total`), and WebGPU only when the machine has a GPU device node
 * (/dev/nvidia0, /dev/dri/renderD*): without one, the only WebGPU adapter is a CPU rasteriser
 * (lavapipe), which loses to the CPU provider at every size, and measuring it costs seconds per
 * model. `CAUSEWAY_AUTO_DEVICES` (a comma list of cuda, webgpu; or none) replaces the list.
 */
import { existsSync, readdirSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';
import { CausewayError } from '../errors.js';
import { batchAxes, concatAlong } from './batcher.js';
import type { ModelContract } from './contract.js';
import { probeFeeds } from './device-check.js';
import type { Provider } from './session.js';

export type DeviceProvider = Exclude<Provider, 'cpu'>;

function hasGpuDeviceNode(): boolean {
  const any = (dir: string, re: RegExp) => {
    try {
      return readdirSync(dir).some((n) => re.test(n));
    } catch {
      return false;
    }
  };
  // A container sees its GPUs under their host numbers (only /dev/nvidia2, say); nvidiactl is always there.
  return existsSync('/dev/nvidiactl') || any('/dev', /^nvidia\d+$/) || any('/dev/dri', /^renderD\d+$/);
}

/** The devices 'auto' measures against the CPU, in order. */
export function autoCandidates(env: NodeJS.ProcessEnv = process.env): DeviceProvider[] {
  const given = env.CAUSEWAY_AUTO_DEVICES;
  if (given !== undefined) {
    const names = given.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none');
    for (const n of names) {
      if (n !== 'cuda' && n !== 'webgpu') {
        throw new CausewayError('invalid-argument', `CAUSEWAY_AUTO_DEVICES: unknown device '${n}' (expected a comma list of cuda, webgpu, or none)`);
      }
    }
    return names as DeviceProvider[];
  }
  return hasGpuDeviceNode() ? ['cuda', 'webgpu'] : ['cuda'];
}

/** The largest batch measured: an unbounded maxBatch is timed up to here (larger batches go by its verdict). */
export const MAX_MEASURED_BATCH = 256;

/** Batch sizes measured: powers of two up to maxBatch (at most MAX_MEASURED_BATCH), and that size itself; just 1 when the batch dim is fixed. */
export function autoBatchSizes(maxBatch: number, batchFree: boolean): number[] {
  maxBatch = Math.min(maxBatch, MAX_MEASURED_BATCH);
  if (!batchFree || maxBatch <= 1) return [1];
  const sizes: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) sizes.push(b);
  sizes.push(maxBatch);
  return sizes;
}

/** The contract's probe step repeated n times along the batch axes (n = 1: the probe itself). */
export function probeBatch(contract: ModelContract, n: number): Record<string, ort.Tensor> {
  const one = probeFeeds(contract);
  if (n === 1) return one;
  const axes = batchAxes(contract);
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(one)) {
    const axis = axes.get(name);
    out[name] = axis === undefined ? t : concatAlong(Array.from({ length: n }, () => t), axis);
  }
  return out;
}

/** Milliseconds per run at each batch size: the fastest of `runs` runs after one warm-up (the least disturbed by other work). */
export async function measureStep(session: ort.InferenceSession, contract: ModelContract, sizes: number[], runs = 3): Promise<number[]> {
  const ms: number[] = [];
  for (const n of sizes) {
    const feeds = probeBatch(contract, n);
    let best = Infinity;
    for (let r = 0; r <= runs; r++) {
      const t0 = performance.now();
      const out = await session.run(feeds);
      const t = performance.now() - t0;
      for (const v of Object.values(out)) v.dispose();
      if (r > 0) best = Math.min(best, t);
    }
    ms.push(best);
  }
  return ms;
}

/**
 * The smallest measured batch size from which the device is faster at every larger measured size,
 * or null when it is not faster at the largest. Batches between two measured sizes go by the
 * smaller one's verdict only when it was measured: a batch of 5 runs on the device only if 4 did.
 */
export function deviceFromBatch(sizes: number[], cpuMs: number[], deviceMs: number[]): number | null {
  let from: number | null = null;
  for (let i = sizes.length - 1; i >= 0; i--) {
    if (deviceMs[i] < cpuMs[i]) from = sizes[i];
    else break;
  }
  return from;
}

/** The one-line account of a measurement, for the log. */
export function describeCosts(sizes: number[], cpuMs: number[], deviceMs: number[], provider: DeviceProvider): string {
  return sizes.map((b, i) => `batch ${b}: cpu ${cpuMs[i].toFixed(2)} ms, ${provider} ${deviceMs[i].toFixed(2)} ms`).join('; ');
}
