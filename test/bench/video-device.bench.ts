/**
 * The video-world model at the size of issue 12's GPU goal (models/video-world/large, random
 * weights: 256x256 frames as 256 tokens, 12 layers d512, 1 sink + 8 window frames) generating
 * frame after frame (each step fed the frame it predicted), on every device that starts here:
 * ms a frame with the cache resident on the device (the step returns it and the next step is fed
 * the returned device buffer), beside the same device with the cache going to and from the host
 * every frame (what a batched model does), and the CPU, in the same run. Opt-in
 * (`npm run bench -- video-device`, and scripts/gpu-check.sh): on a CPU-only machine a frame
 * takes seconds. The weights come from `node models/video-world/large-weights.mjs`.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readVideoWorldConfig, VideoWorldStream } from '../../core/models/video-world.js';
import type { Device, SessionOptions } from '../../core/onnx/session.js';
import { randomSignal, rng } from '../helpers-random.js';
import type { BenchRow } from './row.js';
import { median } from './stats.js';

const large = fileURLToPath(new URL('../../../models/video-world/large/step.onnx', import.meta.url));
const GOAL_FPS = 30;

interface Timing {
  msPerFrame: number;
  provider: string;
  frames: number;
}

/**
 * Frames generated one after another on `options.device`: the median ms a frame. Every step
 * costs the same from the first (the cache's shape is fixed; empty slots are masked, not
 * skipped), so two frames warm up, and then as many as fit in about `budgetMs` (at least 3, at
 * most 60): a GPU gets 60, a software Vulkan device (lavapipe, seconds a frame) a few.
 */
async function generate(options: SessionOptions, budgetMs: number): Promise<Timing> {
  const c = readVideoWorldConfig(large);
  const stream = await VideoWorldStream.open(large, options);
  try {
    const cond = new Float32Array(c.condDim);
    cond[0] = 1;
    let frame = randomSignal(c.tokens * c.patchDim, rng(11));
    const ms: number[] = [];
    let frames = 3;
    for (let i = 0; i < 2 + frames; i++) {
      const t0 = performance.now();
      frame = (await stream.step(frame, cond)).slice();
      if (i < 2) continue;
      ms.push(performance.now() - t0);
      if (i === 2) frames = Math.max(3, Math.min(60, Math.floor(budgetMs / ms[0])));
    }
    return { msPerFrame: median(ms), provider: stream.provider, frames };
  } finally {
    stream.dispose();
  }
}

export async function benchVideoDevice(): Promise<BenchRow[]> {
  if (!existsSync(large.replace(/step\.onnx$/, 'step.weights'))) {
    throw new Error('models/video-world/large/step.weights is not there: `node models/video-world/large-weights.mjs` writes it (158 MB, from a seed)');
  }
  const c = readVideoWorldConfig(large);
  const shape = `${c.size}x${c.size}, ${c.tokens} tokens, ${c.layers} layers d${c.d}, ${c.sinkFrames} + ${c.windowFrames} frames`;
  const cpu = await generate({ device: 'cpu', threads: availableParallelism() }, 5000);
  const rows: BenchRow[] = [];
  const fps = (t: Timing) => `${(1000 / t.msPerFrame).toFixed(1)} fps`;
  for (const device of ['cuda', 'webgpu'] as Device[]) {
    let resident: Timing;
    try {
      resident = await generate({ device }, 10_000);
    } catch (e) {
      rows.push({ name: `video-world large (${shape}) on ${device}`, value: 'not available', baseline: fps(cpu), ratio: '', bound: '', notes: (e as Error).message.split('\n')[0] });
      continue;
    }
    if (resident.provider !== device) {
      // The device started but failed its check against the CPU (or its timing): the model ran on the CPU.
      rows.push({ name: `video-world large (${shape}) on ${device}`, value: 'not used', baseline: fps(cpu), ratio: '', bound: '', notes: `the model ran on ${resident.provider} instead (the log says why: its outputs differed from the CPU's, or measuring it failed)` });
      continue;
    }
    let uploaded: string;
    try {
      const t = await generate({ device, batch: { maxBatch: 2 } }, 5000);
      uploaded = `${t.msPerFrame.toFixed(1)} ms (${fps(t)}, median of ${t.frames})`;
    } catch (e) {
      uploaded = `failed: ${(e as Error).message.split('\n')[0]}`;
    }
    rows.push({
      name: `video-world large (${shape}) on ${resident.provider}, cache resident vs the CPU`,
      value: fps(resident),
      baseline: fps(cpu),
      ratio: `${(cpu.msPerFrame / resident.msPerFrame).toFixed(1)}x`,
      bound: `goal >= ${GOAL_FPS} fps`,
      notes:
        `${resident.msPerFrame.toFixed(1)} ms a frame, median of ${resident.frames} generated frames, the cache resident on the device; ` +
        `the same device with the cache to and from the host every frame: ${uploaded}; ` +
        `the CPU, ${availableParallelism()} threads: ${cpu.msPerFrame.toFixed(0)} ms (median of ${cpu.frames}); ${1000 / resident.msPerFrame >= GOAL_FPS ? 'meets' : 'misses'} the ${GOAL_FPS} fps goal. Random weights: the time is what counts.`,
    });
  }
  return rows;
}
