/**
 * The video-world step over the rolling sink + window cache, beside its two naive baselines in
 * the same run:
 *   1. recomputing the window: the offline graph over the cache's frames and the new one, from
 *      their tokens (no cache), each frame; bound: (S + W + 1) frames of work for 1;
 *   2. recomputing the whole history: the offline graph over every frame so far (same sink + window
 *      rule, so the same outputs), which grows with the frame number;
 * and the step's time and memory at frame 100 and at frame 10,000 (flat), and generateVideo's
 * frames per second. The shipped model when it is there, else the tiny test model (the row says
 * which).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { lastValueFrom, Subject, tap, toArray } from 'rxjs';
import { generateVideo, type VideoCommand, type VideoControl } from '../../operators/generate-video.js';
import { nowMs } from '../../core/frames.js';
import { distanceMatrix, readVideoWorldConfig, VideoWorldStream, type VideoWorldConfig } from '../../core/models/video-world.js';
import { cpuSession } from '../../core/onnx/session.js';
import { sinkWindowFrames } from '../../kernels/sink-kv-cache.js';
import { collectGarbage } from '../gc.js';
import type { BenchRow } from './row.js';
import { median, peakRssMb } from './stats.js';

const shipped = fileURLToPath(new URL('../../../models/video-world/model/step.onnx', import.meta.url));
const tiny = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));

function frames(c: VideoWorldConfig, n: number): Float32Array[] {
  let s = 7;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  return Array.from({ length: n }, () => Float32Array.from({ length: c.tokens * c.patchDim }, r));
}

async function offlineMs(session: ort.InferenceSession, c: VideoWorldConfig, seq: Float32Array[], cond: Float32Array, distance: BigInt64Array): Promise<number> {
  const n = seq.length;
  const f = new Float32Array(n * c.tokens * c.patchDim);
  seq.forEach((x, i) => f.set(x, i * x.length));
  const k = new Float32Array(n * c.condDim);
  for (let i = 0; i < n; i++) k.set(cond, i * c.condDim);
  const t0 = performance.now();
  const out = await session.run({
    frames: new ort.Tensor('float32', f, [1, n, c.tokens, c.patchDim]),
    cond: new ort.Tensor('float32', k, [1, n, c.condDim]),
    distance: new ort.Tensor('int64', distance, [n, n]),
  });
  const ms = performance.now() - t0;
  for (const t of Object.values(out)) t.dispose();
  return ms;
}

export async function benchVideo(): Promise<BenchRow[]> {
  const model = existsSync(shipped) ? shipped : tiny;
  const which = model === shipped ? 'the shipped model' : 'the tiny random test model (models/video-world/model is not built yet)';
  const c = readVideoWorldConfig(model);
  const S = c.sinkFrames;
  const W = c.windowFrames;
  const cond = new Float32Array(c.condDim);
  cond[0] = 1;
  const input = frames(c, 64);
  const stream = await VideoWorldStream.open(model, { device: 'cpu', batch: { maxBatch: 1 } });
  const offline = await cpuSession(model.replace(/step\.onnx$/, 'offline.onnx'));
  const rows: BenchRow[] = [];
  try {
    // Warm up past a full ring.
    for (let i = 0; i < S + W + 4; i++) await stream.step(input[i % input.length], cond);
    // 1. Ring step vs recomputing the window, alternating, each frame.
    const stepMs: number[] = [];
    const windowMs: number[] = [];
    const win = distanceMatrix(S + W + 1, S + W + 1, 1);
    for (let i = 0; i < 40; i++) {
      const x = input[i % input.length];
      const t0 = performance.now();
      await stream.step(x, cond);
      stepMs.push(performance.now() - t0);
      const seq = [...Array.from({ length: S + W }, (_, k) => input[(i + k) % input.length]), x];
      windowMs.push(await offlineMs(offline, c, seq, cond, win));
    }
    const step = median(stepMs);
    const window = median(windowMs);
    rows.push({
      name: `Video-world step over the sink + window cache vs recomputing the window (${c.size}x${c.size}, ${c.tokens} tokens a frame)`,
      value: `${step.toFixed(2)} ms`,
      baseline: `${window.toFixed(2)} ms`,
      ratio: `${(window / step).toFixed(2)}x`,
      bound: `(S+W+1)/1 = ${S + W + 1}`,
      notes: `${which}; S = ${S} sink, W = ${W} window frames; medians of 40 frames, alternated. The baseline runs the offline graph over the ${S + W} held frames and the new one from their tokens (no cache). CPU, 1 thread.`,
    });
    // 2. Ring step vs recomputing the whole history at frame N (same outputs: the same sink + window rule).
    const at = [25, 50, 100];
    const hist: string[] = [];
    let last = 0;
    for (const n of at) {
      const seq = Array.from({ length: n }, (_, k) => input[k % input.length]);
      const ms: number[] = [];
      for (let r = 0; r < 3; r++) ms.push(await offlineMs(offline, c, seq, cond, distanceMatrix(n, S, W)));
      last = median(ms);
      hist.push(`frame ${n}: ${last.toFixed(1)} ms`);
    }
    rows.push({
      name: `Video-world step vs recomputing the whole history (frame ${at[at.length - 1]})`,
      value: `${step.toFixed(2)} ms`,
      baseline: `${last.toFixed(1)} ms`,
      ratio: `${(last / step).toFixed(1)}x`,
      bound: `grows with N (${at[at.length - 1]} frames)`,
      notes: `${which}; the offline graph over all N frames so far (attention masked to the same ${sinkWindowFrames(at[at.length - 1], S, W).length} visible frames, dense over N): ${hist.join(', ')}; the ring step stays at ${step.toFixed(2)} ms for every N.`,
    });
    // 3. Flat in time and memory: frame 100 vs frame 10,000.
    stream.reset();
    const timeAt = async (upTo: number): Promise<{ ms: number; heapMb: number }> => {
      const ms: number[] = [];
      while (stream.frames < upTo) {
        const t0 = performance.now();
        await stream.step(input[stream.frames % input.length], cond);
        if (stream.frames > upTo - 50) ms.push(performance.now() - t0);
      }
      collectGarbage();
      return { ms: median(ms), heapMb: (process.memoryUsage().heapUsed + process.memoryUsage().external) / 2 ** 20 };
    };
    const a = await timeAt(100);
    const b = await timeAt(10_000);
    rows.push({
      name: 'Video-world step at frame 10,000 vs frame 100 (constant time and memory)',
      value: `${b.ms.toFixed(2)} ms`,
      baseline: `${a.ms.toFixed(2)} ms`,
      ratio: `${(a.ms / b.ms).toFixed(2)}x`,
      bound: '1 (flat)',
      notes: `${which}; medians of the 50 frames before each; heap + external ${a.heapMb.toFixed(1)} MB at frame 100, ${b.heapMb.toFixed(1)} MB at 10,000 (after GC). Peak RSS ${peakRssMb().toFixed(0)} MB.`,
    });
  } finally {
    stream.dispose();
    await offline.release();
  }
  // 4. generateVideo as fast as it goes (every frame through the operator: tokens to RGB and back).
  const n = 150;
  const t0 = performance.now();
  await lastValueFrom(generateVideo({ model, device: 'cpu', frames: n, pace: 'asap' }).pipe(toArray()));
  const fps = n / ((performance.now() - t0) / 1000);
  rows.push({
    name: `generateVideo frames per second (${c.size}x${c.size}, CPU, 1 thread)`,
    value: `${fps.toFixed(1)} fps`,
    baseline: '15 fps',
    ratio: `${(fps / 15).toFixed(2)}x`,
    bound: '',
    notes: `${which}; ${n} frames, pace 'asap', model load included; baseline: the real-time goal of 15 fps.`,
  });
  // 5. In real time at 15 fps, steered: a command every 0.3 s (off the frame grid), each timed from
  // its arrival to the first frame it steered; frame age against the frame clock.
  const seconds = 10;
  const control$ = new Subject<VideoControl>();
  const latency: number[] = [];
  const ages: number[] = [];
  const commands: VideoCommand[] = ['right', 'down', 'left', 'up', 'stop'];
  let sent = 0;
  const timer = setInterval(() => control$.next({ command: commands[sent++ % commands.length] }), 300);
  const t1 = performance.now();
  let first: number | undefined;
  try {
    await lastValueFrom(
      generateVideo({ model, device: 'cpu', fps: 15, frames: seconds * 15, control$, onApplied: (a) => latency.push(a.latencyMs) }).pipe(
        tap((f) => {
          // The clock starts at the first frame (after the model loads).
          first ??= nowMs() - f.pts / 1000;
          ages.push(nowMs() - (first + f.pts / 1000));
        }),
        toArray(),
      ),
    );
  } finally {
    clearInterval(timer);
  }
  const wall = (performance.now() - t1) / 1000;
  const realFps = (seconds * 15) / wall;
  const q = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  rows.push({
    name: 'generateVideo in real time at 15 fps, steered: control to frame p50',
    value: `${q(latency, 0.5).toFixed(1)} ms`,
    baseline: '150 ms',
    ratio: `${(150 / q(latency, 0.5)).toFixed(1)}x under`,
    bound: '<= 1 frame (66.7 ms) + a step',
    notes: `${which}; ${seconds} s, ${latency.length} of ${sent} commands timed (arrival to the first frame they steered leaving the operator; one sent mid-frame waits for the boundary): p99 ${q(latency, 0.99).toFixed(1)} ms; ${realFps.toFixed(2)} fps over the run (model load included); frame age (late against the frame clock) p50 ${q(ages, 0.5).toFixed(1)} ms, p99 ${q(ages, 0.99).toFixed(1)} ms; baseline: the goal, p50 <= 150 ms at loopback.`,
  });
  return rows;
}
