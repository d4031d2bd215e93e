/**
 * Batched steps (core/onnx/batcher.ts): 32 streams stepping one shared model at once, each
 * with its own state, through the real StepModel, with batching on (steps that wait while a run
 * is in flight go together) beside batching off (every step its own run), in the same run.
 * Throughput in stream-steps per second; ratio = on / off. Beside it, the same ratio in the
 * process's CPU time per step, which a busy host (this machine is a VM with neighbours) moves
 * less than wall time: both sides run on the one thread, so CPU time is what a step costs.
 */
import { binauralFlowContract, defaultBinauralFlowModel, readBinauralFlowConfig } from '../../core/models/binaural-flow.js';
import { defaultCommandModel } from '../../core/models/default-models.js';
import { cacheAwareContract, readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { defaultSileroVadPath, sileroVadContract } from '../../core/models/silero-vad.js';
import type { ModelContract } from '../../core/onnx/contract.js';
import { probeFeeds } from '../../core/onnx/device-check.js';
import { StepModel } from '../../core/onnx/step-model.js';
import { histogramCount, sharedMetrics } from '../../core/metrics.js';
import type { BenchRow } from './row.js';

const STREAMS = 32;

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function throughput(path: string, contract: ModelContract, maxBatch: number, seconds: number): Promise<{ stepsPerS: number; cpuMsPerStep: number; meanBatch: number; batched: boolean }> {
  // Both sides on the main thread: this row is what batching alone does (bench load shows the worker threads).
  const model = await StepModel.load(path, contract, { device: 'cpu', batch: { maxBatch }, thread: 'main' });
  const states = Array.from({ length: STREAMS }, () => model.newState());
  const all = probeFeeds(contract);
  const feeds = Object.fromEntries(Object.entries(all).filter(([k]) => !contract.state.some((p) => p.input === k)));
  const runs0 = await histogramCount(sharedMetrics.batchSize, { model: contract.name });
  let steps = 0;
  try {
    // Warm-up, then every stream steps until the time is up.
    await Promise.all(states.map((s) => model.step(feeds, s)));
    const [t0, c0] = [performance.now(), cpuMs()];
    const end = t0 + seconds * 1000;
    await Promise.all(
      states.map(async (s) => {
        while (performance.now() < end) {
          await model.step(feeds, s);
          steps++;
        }
      }),
    );
    const runs = (await histogramCount(sharedMetrics.batchSize, { model: contract.name })) - runs0;
    return { stepsPerS: steps / ((performance.now() - t0) / 1000), cpuMsPerStep: (cpuMs() - c0) / steps, meanBatch: runs > 0 ? (steps + STREAMS) / runs : 1, batched: model.batcher !== undefined };
  } finally {
    for (const s of states) s.dispose();
    await model.dispose();
  }
}

export async function benchBatch(): Promise<BenchRow[]> {
  const asr = defaultCommandModel();
  const flow = defaultBinauralFlowModel();
  const models: [string, string, ModelContract][] = [
    ['Silero VAD v5', defaultSileroVadPath(), sileroVadContract],
    ['command-asr step', asr, cacheAwareContract(readCacheAwareConfig(asr))],
    ['binaural-flow step', flow, binauralFlowContract(readBinauralFlowConfig(flow))],
  ];
  const rows: BenchRow[] = [];
  for (const [name, path, contract] of models) {
    const off = await throughput(path, contract, 1, 3);
    const on = await throughput(path, contract, 32, 3);
    rows.push({
      name: `${name}: ${STREAMS} streams, batched vs one run per step (CPU, 1 thread)`,
      value: `${on.stepsPerS.toFixed(0)} steps/s`,
      baseline: `${off.stepsPerS.toFixed(0)} steps/s`,
      ratio: `${(on.stepsPerS / off.stepsPerS).toFixed(2)}x`,
      bound: '',
      notes: on.batched
        ? `mean ${on.meanBatch.toFixed(1)} steps per run; in CPU time a step ${on.cpuMsPerStep.toFixed(3)} vs ${off.cpuMsPerStep.toFixed(3)} ms: ${(off.cpuMsPerStep / on.cpuMsPerStep).toFixed(2)}x`
        : 'the graph fixes batch 1: no batching (re-export it with a free batch dim)',
    });
  }
  return rows;
}
