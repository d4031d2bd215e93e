/**
 * ONNX Runtime sessions with an explicit device choice.
 *
 * - 'cpu'  : CPU execution provider only.
 * - 'cuda' : CUDA only; fails loudly (ModelError 'provider-unavailable') when the CUDA provider
 *            cannot be loaded (onnxruntime-node installed without ONNXRUNTIME_NODE_INSTALL=cuda12,
 *            no driver, ...). Never a silent CPU run.
 * - 'webgpu': onnxruntime-node's bundled WebGPU provider (Dawn over Vulkan; nothing to install
 *            in node_modules, but it needs a Vulkan driver: an NVIDIA driver's, or on a CPU-only
 *            machine Mesa 25's lavapipe, `scripts/setup.sh` installs it). Fails loudly
 *            ('provider-unavailable') when it cannot start.
 * - 'auto' : here (a plain session): tries CUDA, and when it is unavailable falls back to CPU
 *            with a visible log line and a `causeway_provider_fallbacks_total` increment. Step
 *            models (StepModel.load, which every model in Causeway uses) decide 'auto' by
 *            measured cost per batch size instead: auto-device.ts.
 *
 * A session on a device is checked against the CPU before any stream uses it (step-model.ts):
 * a model whose outputs differ there runs on the CPU instead, with a log line and a metric.
 *
 * The provider reported is the one whose session creation succeeded; ORT may still place single
 * unsupported nodes on CPU inside a CUDA session, which it logs itself at verbose level.
 */
import { existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';
import type { BatchOptions } from './batcher.js';
import { logger } from '../log.js';
import { sharedMetrics } from '../metrics.js';

export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type Provider = 'cpu' | 'cuda' | 'webgpu';
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'cuda', 'webgpu'];

export interface SessionOptions {
  device?: Device;
  /** Batching of steps across the streams sharing this model (batcher.ts); default: batches of up to 32, no waiting. */
  batch?: BatchOptions;
  /** Intra-op threads (default 1: streams scale across cores by running side by side, not by splitting one small step). */
  threads?: number;
  /**
   * Where a step model's CPU runs compute: 'worker', a worker thread per model, so model runs
   * and the JavaScript around them use two cores; 'main', on the calling thread, as
   * onnxruntime-node does by itself. Default: the model contract's `thread` (the captions
   * models, Silero VAD and the cache-aware recogniser, say 'worker'), else 'main'. Device
   * sessions (CUDA, WebGPU) always run on the main thread.
   */
  thread?: 'worker' | 'main';
}

export interface LoadedSession {
  readonly session: ort.InferenceSession;
  readonly provider: Provider;
  readonly path: string;
}

const log = logger('onnx');

/**
 * onnxruntime-node ships CPU binaries only; the CUDA provider library lands beside them only when
 * it was installed with ONNXRUNTIME_NODE_INSTALL=cuda12. Looking for it first gives a precise
 * reason and avoids ORT's native error dump on every CPU-only machine.
 */
export function cudaProviderInstalled(): boolean {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('onnxruntime-node/package.json'));
  const dir = join(root, 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(dir, 'libonnxruntime_providers_cuda.so')) || existsSync(join(dir, 'onnxruntime_providers_cuda.dll'));
}

async function tryCuda(path: string, threads: number): Promise<ort.InferenceSession> {
  if (!cudaProviderInstalled()) {
    throw new Error('onnxruntime-node was installed without its CUDA provider libraries');
  }
  return create(path, 'cuda', threads);
}

async function create(path: string, provider: Provider, threads: number, deviceOutputs: readonly string[] = []): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    executionProviders: [provider],
    ...(deviceOutputs.length > 0 ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((o) => [o, 'gpu-buffer' as const])) } : {}),
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Our own error says what failed; ORT's native error dump would only repeat it on stderr.
    logSeverityLevel: provider === 'cpu' ? 3 : 4,
  });
}

function loadError(path: string, e: unknown): ModelError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/protobuf parsing failed|invalid model|ModelProto/i.test(msg)) {
    return new ModelError('model-invalid', `${path} is not a valid ONNX model (${msg.split('\n')[0]})`, { cause: e });
  }
  return new ModelError('model-invalid', `cannot load ONNX model ${path}: ${msg.split('\n')[0]}`, { cause: e });
}

/**
 * A session on a device (CUDA, WebGPU) that leaves `stateOutputs` in device memory (IO binding):
 * each step's returned state tensors are fed back as the next step's inputs without a copy to
 * the CPU and back. Such a tensor must never be read on the CPU (onnxruntime-node 1.30 aborts the
 * process on getData() of a WebGPU buffer) and must be disposed before the session is released
 * (disposing it afterwards crashes): StepModel keeps both rules for its streams' states.
 */
export async function residentSession(path: string, provider: Exclude<Provider, 'cpu'>, threads: number, stateOutputs: readonly string[]): Promise<ort.InferenceSession> {
  return create(path, provider, threads, stateOutputs);
}

/** A plain CPU session of the same file (the reference a device session is checked against). */
export async function cpuSession(path: string, threads = 1): Promise<ort.InferenceSession> {
  return create(path, 'cpu', threads);
}

export async function loadSession(path: string, options: SessionOptions = {}): Promise<LoadedSession> {
  const device = options.device ?? 'auto';
  const threads = options.threads ?? 1;
  if (!DEVICES.includes(device)) {
    throw new ModelError('provider-unavailable', `unknown device '${device}' (expected ${DEVICES.join(', ')})`);
  }
  try {
    await access(path);
  } catch {
    throw new ModelError('model-not-found', `model file not found: ${path}`);
  }
  if (device === 'webgpu') {
    try {
      const session = await create(path, 'webgpu', threads);
      log.info(`${path}: running on WebGPU`);
      sharedMetrics.provider.set({ model: path, provider: 'webgpu' }, 1);
      return { session, provider: 'webgpu', path };
    } catch (e) {
      const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      throw new ModelError(
        'provider-unavailable',
        `device 'webgpu' requested for ${path} but onnxruntime's WebGPU provider could not start (${reason}); ` +
          `it needs a Vulkan driver (an NVIDIA driver's, or Mesa 25's lavapipe on a CPU-only machine: scripts/setup.sh), or use device 'cpu'`,
        { cause: e },
      );
    }
  }
  if (device === 'cuda' || device === 'auto') {
    try {
      const session = await tryCuda(path, threads);
      log.info(`${path}: running on CUDA`);
      sharedMetrics.provider.set({ model: path, provider: 'cuda' }, 1);
      return { session, provider: 'cuda', path };
    } catch (e) {
      const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
      if (device === 'cuda') {
        throw new ModelError(
          'provider-unavailable',
          `device 'cuda' requested for ${path} but the CUDA execution provider is unavailable (${reason}); ` +
            `install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12, or use device 'cpu'`,
          { cause: e },
        );
      }
      if (!/cuda|shared library|provider/i.test(reason)) throw loadError(path, e);
      log.info(`${path}: CUDA unavailable (${reason}); falling back to CPU`);
      sharedMetrics.providerFallbacks.inc({ model: path });
    }
  }
  try {
    const session = await create(path, 'cpu', threads);
    sharedMetrics.provider.set({ model: path, provider: 'cpu' }, 1);
    return { session, provider: 'cpu', path };
  } catch (e) {
    throw loadError(path, e);
  }
}
