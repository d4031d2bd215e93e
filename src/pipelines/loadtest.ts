/**
 * The load harness: N synthetic live sessions in this process, each fed a speech clip (looped)
 * at real-time pace in 20 ms frames, through the server's default pipeline, no browser and no
 * network. It reports whether every session kept up (nothing dropped, frame age p99 under
 * 200 ms), the CPU each session cost, and how many steps the shared models ran per run.
 *
 * Frames are stamped with the wall time they were due (a microphone captures on its own clock),
 * so a pacing loop that falls behind shows up as frame age, not as slower audio. Sessions start
 * at spread phases within a frame period, as independent clients do.
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import { ffmpegAudioInput } from '../../media/ffmpeg/index.js';
import { CausewayError } from '../../core/errors.js';
import { audioFrame, nowMs, type AudioFrame } from '../../core/frames.js';
import { histogramTotals, metricTotal, sharedMetrics } from '../../core/metrics.js';
import type { BatchOptions } from '../../core/onnx/batcher.js';
import type { Device } from '../../core/onnx/session.js';
import { defaultPipeline } from '../server/session-pipeline.js';

export type LoadPipeline = 'captions' | 'binaural' | 'default';

export interface LoadtestOptions {
  sessions: number;
  seconds: number;
  /** captions: VAD + speech recognition events; binaural: the binaural return audio; default: both. */
  pipeline?: LoadPipeline;
  /** Speech fed to every session, looped (default: the demo clip). */
  clip: string;
  device?: Device;
  batch?: BatchOptions;
  /** Where the models' CPU steps run (default: each model's own; see SessionOptions.thread). */
  thread?: 'worker' | 'main';
}

export interface LoadtestReport {
  sessions: number;
  seconds: number;
  pipeline: LoadPipeline;
  /** Nothing dropped and frame age p99 under REALTIME_AGE_MS. */
  realtime: boolean;
  cpuMsPerSecondPerSession: number;
  frameAgeP99Ms: number;
  dropped: number;
  /** Steps per run of the models that batch (1 when none does, or batching is off). */
  batchSizeMean: number;
  /** Outputs (events and audio frames) the sessions received. */
  outputs: number;
}

export const REALTIME_AGE_MS = 200;
const FRAME_MS = 20;
const RATE = 48000;

async function decodeClip(clip: string): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  await new Promise<void>((resolve, reject) => {
    ffmpegAudioInput(clip, { sampleRate: RATE, channels: 1 }).subscribe({ next: (f) => parts.push(f.data), error: reject, complete: resolve });
  });
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

export async function loadtest(o: LoadtestOptions): Promise<LoadtestReport> {
  if (!(Number.isInteger(o.sessions) && o.sessions >= 1)) throw new CausewayError('invalid-argument', `loadtest: sessions must be a positive integer, got ${o.sessions}`);
  if (!(o.seconds > 0)) throw new CausewayError('invalid-argument', `loadtest: seconds must be positive, got ${o.seconds}`);
  const kind = o.pipeline ?? 'captions';
  if (!['captions', 'binaural', 'default'].includes(kind)) throw new CausewayError('invalid-argument', `loadtest: pipeline must be captions, binaural or default, got '${kind}'`);
  const clip = await decodeClip(o.clip);
  const n = (RATE * FRAME_MS) / 1000;
  const pipeline = defaultPipeline({ device: o.device, batch: o.batch, thread: o.thread });
  const release = pipeline.warm ? await pipeline.warm() : () => {};
  const inputs: Subject<AudioFrame>[] = [];
  const subs: Subscription[] = [];
  const ages: number[] = [];
  let outputs = 0;
  let open = 0;
  let failure: Error | undefined;
  let allDone: () => void = () => {};
  const done = new Promise<void>((r) => (allDone = r));
  const watch = (x$: Observable<unknown>) => {
    open++;
    subs.push(
      x$.subscribe({
        next: (x) => {
          outputs++;
          const wall = (x as { wallMs?: unknown }).wallMs;
          if (typeof wall === 'number') ages.push(nowMs() - wall);
        },
        error: (e) => {
          failure ??= e as Error;
          if (--open === 0) allDone();
        },
        complete: () => {
          if (--open === 0) allDone();
        },
      }),
    );
  };
  const drops0 = await metricTotal(sharedMetrics.drops);
  const batch0 = await histogramTotals(sharedMetrics.batchSize);
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  try {
    for (let i = 0; i < o.sessions; i++) {
      const audio$ = new Subject<AudioFrame>();
      inputs.push(audio$);
      const out = pipeline({ audio$, control$: new Subject() });
      if (kind !== 'binaural') watch(out.events$);
      if (kind !== 'captions' && out.audio$) watch(out.audio$);
    }
    // Pace every session's frames from one loop: session i's frame k is due at t0 + phase_i + (k + 1) * 20 ms.
    const sent = new Array<number>(o.sessions).fill(0);
    const frames = Math.floor((o.seconds * 1000) / FRAME_MS);
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = nowMs();
        let left = false;
        for (let i = 0; i < o.sessions; i++) {
          const phase = (i * FRAME_MS) / o.sessions;
          while (sent[i] < frames && t0 + phase + (sent[i] + 1) * FRAME_MS <= now) {
            const k = sent[i]++;
            const data = new Float32Array(n);
            // The clip, looped: at most two block copies (the harness's own cost counts in the CPU figure).
            for (let j = 0; j < n; ) {
              const from = (k * n + j) % clip.length;
              const take = Math.min(n - j, clip.length - from);
              data.set(clip.subarray(from, from + take), j);
              j += take;
            }
            inputs[i].next(audioFrame(k * FRAME_MS * 1000, RATE, 1, data, t0 + phase + (k + 1) * FRAME_MS));
          }
          if (sent[i] < frames) left = true;
        }
        if (left) setTimeout(tick, 2);
        else resolve();
      };
      tick();
    });
    for (const s of inputs) s.complete();
    // Outputs drain: each operator flushes what it holds, then completes.
    await done;
    if (failure) throw failure;
  } finally {
    for (const s of subs) s.unsubscribe();
    release();
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (nowMs() - t0) / 1000;
  ages.sort((a, b) => a - b);
  const p99 = ages.length ? ages[Math.min(ages.length - 1, Math.floor(0.99 * ages.length))] : 0;
  const dropped = (await metricTotal(sharedMetrics.drops)) - drops0;
  const b = await histogramTotals(sharedMetrics.batchSize);
  const runs = b.count - batch0.count;
  return {
    sessions: o.sessions,
    seconds: o.seconds,
    pipeline: kind,
    realtime: dropped === 0 && p99 < REALTIME_AGE_MS,
    cpuMsPerSecondPerSession: (cpu.user + cpu.system) / 1000 / wall / o.sessions,
    frameAgeP99Ms: p99,
    dropped,
    batchSizeMean: runs > 0 ? (b.sum - batch0.sum) / runs : 1,
    outputs,
  };
}
