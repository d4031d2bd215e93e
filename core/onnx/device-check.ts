/**
 * The device check: before any stream uses a session on a non-CPU provider, one probe input
 * runs there and on the CPU, and the outputs must agree. Providers can be silently wrong for a
 * model (Silero VAD v5 on WebGPU: speech probabilities off by up to 1.1, measured on an NVIDIA
 * H200 and on Mesa's lavapipe), and a wrong result served quickly is worse than a right one
 * served on the CPU.
 */
import * as ort from 'onnxruntime-node';
import type { ModelContract, TensorSpec } from './contract.js';

export interface DeviceCheck {
  ok: boolean;
  /** Largest absolute difference over all outputs. */
  maxDiff: number;
  /** The output where it was, and that output's largest CPU magnitude. */
  output: string;
  scale: number;
}

/** Default agreement bound: relative to each output's magnitude (1e-3 of it, or 1e-3 when it is below 1). */
export const DEVICE_TOLERANCE = 1e-3;

/** A deterministic valid input for the contract's probe (`contract.probe` gives sizes and integer values). */
export function probeFeeds(contract: ModelContract): Record<string, ort.Tensor> {
  const probe = contract.probe!;
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of contract.inputs) {
    const state = contract.state.find((p) => p.input === spec.name);
    const dims = state ? [...state.initialShape] : spec.shape.map((d) => (typeof d === 'number' ? d : probe.dims[d] ?? 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const given = probe.values?.[spec.name];
    if (given && given.length !== n) throw new Error(`device check: ${contract.name}'s probe gives ${given.length} values for '${spec.name}' of ${n}`);
    feeds[spec.name] = given ? new ort.Tensor('float32', Float32Array.from(given), dims) : tensorFor(spec, dims, n, probe.ints?.[spec.name], rand);
  }
  return feeds;
}

function tensorFor(spec: TensorSpec, dims: number[], n: number, int: number | undefined, rand: () => number): ort.Tensor {
  switch (spec.dtype) {
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(int ?? 1)), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n).fill(int ?? 1), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(n).fill(int ?? 0), dims);
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from({ length: n }, () => 0.5 * rand()), dims);
    default:
      throw new Error(`device check: no probe values for dtype ${spec.dtype} ('${spec.name}')`);
  }
}

/** Runs the probe on both sessions and compares every output. */
export async function checkDevice(device: ort.InferenceSession, cpu: ort.InferenceSession, contract: ModelContract): Promise<DeviceCheck> {
  const feeds = probeFeeds(contract);
  const [a, b] = [await device.run(feeds), await cpu.run(feeds)];
  let worst: DeviceCheck = { ok: true, maxDiff: 0, output: '', scale: 0 };
  for (const [name, ref] of Object.entries(b)) {
    const got = a[name];
    const x = got.data as ArrayLike<number | bigint>;
    const y = ref.data as ArrayLike<number | bigint>;
    let diff = got.dims.join() === ref.dims.join() ? 0 : Infinity;
    let scale = 0;
    for (let i = 0; i < y.length && diff !== Infinity; i++) {
      const d = Math.abs(Number(x[i]) - Number(y[i]));
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      scale = Math.max(scale, Math.abs(Number(y[i])));
    }
    const ok = diff <= (contract.probe?.tolerance ?? DEVICE_TOLERANCE) * Math.max(1, scale);
    if (!ok || diff > worst.maxDiff) worst = { ok: worst.ok && ok, maxDiff: Math.max(diff, worst.maxDiff), output: name, scale };
    got.dispose();
    ref.dispose();
  }
  return worst;
}
