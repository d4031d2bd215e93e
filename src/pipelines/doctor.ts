/**
 * `causeway doctor`: which execution providers this install can start, and for each shipped
 * step model and each provider that starts, whether its outputs there match the CPU (the same
 * device check that guards every model load) and what a step costs at batch 1 and batch 32.
 */
import * as ort from 'onnxruntime-node';
import { binauralFlowContract, defaultBinauralFlowModel, readBinauralFlowConfig } from '../../core/models/binaural-flow.js';
import { defaultCommandModel } from '../../core/models/default-models.js';
import { cacheAwareContract, readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { defaultSileroVadPath, sileroVadContract } from '../../core/models/silero-vad.js';
import { probeBatch } from '../../core/onnx/auto-device.js';
import { batchAxes, batchIsFree } from '../../core/onnx/batcher.js';
import type { ModelContract } from '../../core/onnx/contract.js';
import { checkDevice, probeFeeds } from '../../core/onnx/device-check.js';
import { cpuSession, cudaProviderInstalled, loadSession, type Provider } from '../../core/onnx/session.js';
import { cpuAdapter, cudaAdapter, webgpuAdapter } from './gpu-adapters.js';

export interface ProviderReport {
  name: Provider;
  available: boolean;
  /** Why it is not (the provider's own words), when it is not. */
  reason?: string;
  /** The device it runs on (for WebGPU: the Vulkan device Dawn picks), when it can be named. */
  adapter?: string;
  /** Why the device cannot be named, when it cannot. */
  adapterNote?: string;
}

export interface ModelReport {
  name: string;
  path: string;
  provider: Provider;
  /** Outputs on this provider match the CPU's within the model's tolerance (always true on the CPU). */
  ok: boolean;
  maxDiff: number;
  msBatch1: number;
  /** null when the graph's batch dim is fixed (it runs one step at a time). */
  msBatch32: number | null;
}

export interface DoctorReport {
  providers: ProviderReport[];
  models: ModelReport[];
}

interface Shipped {
  name: string;
  path: string;
  contract: ModelContract;
}

function shippedModels(): Shipped[] {
  const asr = defaultCommandModel();
  const flow = defaultBinauralFlowModel();
  return [
    { name: 'silero-vad', path: defaultSileroVadPath(), contract: sileroVadContract },
    { name: 'command-asr', path: asr, contract: cacheAwareContract(readCacheAwareConfig(asr)) },
    { name: 'binaural-flow', path: flow, contract: binauralFlowContract(readBinauralFlowConfig(flow)) },
  ];
}

async function timeRuns(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, minRuns: number, minMs: number, maxMs: number): Promise<number> {
  await session.run(feeds);
  let runs = 0;
  const t0 = performance.now();
  // A run that takes seconds (batch 32 on a software Vulkan device) is timed fewer times: past
  // maxMs, the runs done so far are the figure.
  while ((runs < minRuns || performance.now() - t0 < minMs) && !(runs > 0 && performance.now() - t0 >= maxMs)) {
    await session.run(feeds);
    runs++;
  }
  return (performance.now() - t0) / runs;
}

function batched(contract: ModelContract, session: ort.InferenceSession, n: number): Record<string, ort.Tensor> | null {
  const axes = batchAxes(contract);
  return axes.size === 0 || !batchIsFree(session, axes) ? null : probeBatch(contract, n);
}

/**
 * Tries CUDA (when its libraries are installed) and WebGPU beside the CPU; times each run for at
 * least minRuns runs and minMs, and stops at maxMs once one run is timed.
 */
export async function doctor(options: { minRuns?: number; minMs?: number; maxMs?: number } = {}): Promise<DoctorReport> {
  const minRuns = options.minRuns ?? 5;
  const minMs = options.minMs ?? 200;
  const maxMs = options.maxMs ?? 1000;
  const models = shippedModels();
  const providers: ProviderReport[] = [{ name: 'cpu', available: true, ...cpuAdapter() }];
  for (const name of ['cuda', 'webgpu'] as const) {
    if (name === 'cuda' && !cudaProviderInstalled()) {
      providers.push({ name, available: false, reason: 'onnxruntime-node was installed without its CUDA provider libraries (npm run install-cuda)' });
      continue;
    }
    try {
      const s = await loadSession(models[0].path, { device: name });
      await s.session.release();
      providers.push({ name, available: true, ...(name === 'cuda' ? cudaAdapter() : webgpuAdapter()) });
    } catch (e) {
      providers.push({ name, available: false, reason: (e as Error).message.split('\n')[0] });
    }
  }
  const reports: ModelReport[] = [];
  for (const model of models) {
    const cpu = await cpuSession(model.path);
    try {
      for (const p of providers.filter((x) => x.available)) {
        const session = p.name === 'cpu' ? cpu : (await loadSession(model.path, { device: p.name })).session;
        try {
          const check = p.name === 'cpu' ? { ok: true, maxDiff: 0 } : await checkDevice(session, cpu, model.contract);
          const big = batched(model.contract, session, 32);
          reports.push({
            name: model.name,
            path: model.path,
            provider: p.name,
            ok: check.ok,
            maxDiff: check.maxDiff,
            msBatch1: await timeRuns(session, probeFeeds(model.contract), minRuns, minMs, maxMs),
            msBatch32: big ? await timeRuns(session, big, minRuns, minMs, maxMs) : null,
          });
        } finally {
          if (session !== cpu) await session.release();
        }
      }
    } finally {
      await cpu.release();
    }
  }
  return { providers, models: reports };
}

/** The report as lines for a terminal. */
export function formatDoctor(r: DoctorReport): string {
  const lines = ['providers:'];
  for (const p of r.providers) {
    const on = p.adapter ? ` on ${p.adapter}` : p.adapterNote ? ` (${p.adapterNote})` : '';
    lines.push(`  ${p.name.padEnd(7)} ${p.available ? `available${on}` : `not available: ${p.reason}`}`);
  }
  lines.push('models (step time per run; batch 32 runs 32 streams\' steps at once):');
  for (const m of r.models) {
    const b32 = m.msBatch32 === null ? 'batch fixed to 1' : `batch 32 ${m.msBatch32.toFixed(2)} ms (${(m.msBatch32 / 32).toFixed(3)} ms a stream)`;
    const check = m.provider === 'cpu' ? 'reference' : m.ok ? `matches the CPU (${m.maxDiff.toExponential(1)})` : `DIFFERS from the CPU by ${m.maxDiff.toExponential(1)}: runs on the CPU instead`;
    lines.push(`  ${m.name.padEnd(14)} ${m.provider.padEnd(7)} ${check}; batch 1 ${m.msBatch1.toFixed(2)} ms; ${b32}`);
  }
  return lines.join('\n') + '\n';
}
