/**
 * `generateVideo`: frames generated one at a time by the video-world model (its step over the
 * rolling sink + window KV cache), each the model's prediction from the frame before it, the
 * scene and the command. A source: it emits VideoFrames (rgb24, size x size) with pts on a fixed
 * frame-rate timeline from 0.
 *
 * - Commands (`control$`) and scene switches (`prompt$`) apply at frame boundaries: one whose
 *   `atUs` is at or before frame n's time steers frame n + 1 (so a script gives the same video
 *   however fast it runs); one without `atUs` steers the first frame generated after it arrived.
 *   A scene switch first re-caches the held frames under the new scene (LongLive), so the next
 *   frame attends to a past that agrees with it.
 * - `pace: 'realtime'` (default) emits frame n at t0 + n / fps, generating it just before (a
 *   step's recent cost ahead), so a command waits at most a frame and a step; late when a step
 *   takes longer than 1 / fps (generation never skips a frame, it is autoregressive); frames carry no flow
 *   control, so queues downstream drop the oldest and count it. `pace: 'asap'` generates as fast
 *   as downstream takes frames: they carry the source's FlowControl, so a queue that fills pauses
 *   the generator and nothing is lost (a file writer).
 * - Metrics: frames out; their age ('realtime': how late against the frame clock); and
 *   `causeway_control_to_frame_ms` (a command's arrival to the first frame it steered, leaving
 *   this operator).
 */
import { Observable, type Subscription } from 'rxjs';
import { FlowControl, tagFlow } from '../core/flow.js';
import { nowMs, type VideoFrame } from '../core/frames.js';
import { CausewayError } from '../core/errors.js';
import { logger } from '../core/log.js';
import { sharedMetrics } from '../core/metrics.js';
import { COMMANDS, COND_DIM, condVector, fromTokens, render, SCENES, toTokens } from '../core/models/video-world-scenes.js';
import { defaultVideoWorldModel, VideoWorldStream } from '../core/models/video-world.js';
import type { SessionOptions } from '../core/onnx/session.js';
import { mulberry32 } from '../kernels/mulberry32.js';

const log = logger('generate-video');

export type VideoCommand = 'stop' | 'left' | 'right' | 'up' | 'down';

export interface VideoControl {
  /** A named direction, or `dx`/`dy` in -1..1 (each rounded to -1, 0 or 1). */
  command?: VideoCommand;
  dx?: number;
  dy?: number;
  /** Source time (µs) from which it applies; default: the next frame boundary. */
  atUs?: number;
}

export interface VideoPrompt {
  /** A scene by index or name (SCENES in core/models/video-world-scenes.ts). */
  scene: number | string;
  atUs?: number;
}

export interface GenerateVideoOptions extends SessionOptions {
  /** The model's step.onnx (offline.onnx beside it); default: the shipped models/video-world/model. */
  model?: string;
  /** Frames per second of the timeline (default 15). */
  fps?: number;
  /** The first scene (default 0). */
  scene?: number | string;
  /**
   * Where the object starts: drawn from this seed, anywhere inside the walls (default: no seed,
   * the centre). The same seed starts it at the same place.
   */
  seed?: number;
  /** Stop after this many frames (default: never). */
  frames?: number;
  /** 'realtime' (default) or 'asap' (as fast as downstream takes them, nothing dropped). */
  pace?: 'realtime' | 'asap';
  control$?: Observable<VideoControl>;
  prompt$?: Observable<VideoPrompt>;
  /**
   * Called as the first frame a command or scene switch steered leaves the operator, with the
   * control as it came in (extra fields kept, e.g. a client's send time) and the milliseconds
   * from its arrival to that frame. A control overtaken by a newer one before any frame took it
   * is not reported.
   */
  onApplied?: (applied: AppliedControl) => void;
}

export type AppliedControl =
  | { kind: 'control'; control: VideoControl; pts: number; latencyMs: number }
  | { kind: 'prompt'; prompt: VideoPrompt; pts: number; latencyMs: number };

/** The object's start for a seed: a mulberry32 draw inside the walls of the scene. */
export function startPosition(scene: number, size: number, seed?: number): [number, number] {
  if (seed === undefined) return [size / 2, size / 2];
  const draw = mulberry32(seed);
  const next = () => draw() / 4294967296;
  const lo = SCENES[scene].radius + 1;
  const hi = size - SCENES[scene].radius - 1;
  return [Math.round(lo + next() * (hi - lo)), Math.round(lo + next() * (hi - lo))];
}

export function sceneIndex(scene: number | string): number {
  const i = typeof scene === 'number' ? scene : SCENES.findIndex((s) => s.name === scene);
  if (!Number.isInteger(i) || i < 0 || i >= SCENES.length) {
    throw new CausewayError('invalid-argument', `generateVideo: unknown scene ${JSON.stringify(scene)} (scenes: ${SCENES.map((s, k) => `${k} ${s.name}`).join(', ')})`);
  }
  return i;
}

function direction(c: VideoControl): [number, number] {
  if (c.command !== undefined) {
    const d = COMMANDS[c.command];
    if (!d) throw new CausewayError('invalid-argument', `generateVideo: unknown command ${JSON.stringify(c.command)} (${Object.keys(COMMANDS).join(', ')})`);
    return [d[0], d[1]];
  }
  const r = (v: number | undefined) => {
    if (v === undefined) return 0;
    if (!Number.isFinite(v)) throw new CausewayError('invalid-argument', `generateVideo: dx and dy must be finite numbers, got ${v}`);
    return Math.max(-1, Math.min(1, Math.round(v)));
  };
  return [r(c.dx), r(c.dy)];
}

interface Pending<T, S> {
  value: T;
  source: S;
  atUs: number;
  arrivedMs: number;
}

export function generateVideo(options: GenerateVideoOptions = {}): Observable<VideoFrame> {
  const fps = options.fps ?? 15;
  if (!(fps > 0 && fps <= 240)) throw new CausewayError('invalid-argument', `generateVideo: fps must be in (0, 240], got ${fps}`);
  const firstScene = sceneIndex(options.scene ?? 0);
  const limit = options.frames ?? Infinity;
  if (!(limit > 0)) throw new CausewayError('invalid-argument', `generateVideo: frames must be positive, got ${limit}`);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new CausewayError('invalid-argument', `generateVideo: seed must be an integer, got ${options.seed}`);
  const pace = options.pace ?? 'realtime';
  if (pace !== 'realtime' && pace !== 'asap') throw new CausewayError('invalid-argument', `generateVideo: pace must be 'realtime' or 'asap', got ${String(pace)}`);
  return new Observable<VideoFrame>((sub) => {
    let stopped = false;
    const subs: Subscription[] = [];
    const controls: Pending<[number, number], VideoControl>[] = [];
    const prompts: Pending<number, VideoPrompt>[] = [];
    const flow = pace === 'asap' ? new FlowControl() : undefined;
    let wake: (() => void) | undefined;
    const sleep = (ms: number) => new Promise<void>((r) => {
      const t = setTimeout(() => ((wake = undefined), r()), ms);
      wake = () => (clearTimeout(t), (wake = undefined), r());
    });
    const unpaused = () => new Promise<void>((r) => {
      if (!flow?.paused) return r();
      const off = flow.onChange((p) => {
        if (!p || stopped) (off(), r());
      });
      wake = () => (off(), (wake = undefined), r());
    });
    const fail = (e: unknown) => {
      if (!stopped) sub.error(e);
    };
    const take = <T, S extends { atUs?: number }>(list: Pending<T, S>[], value: T, source: S) => {
      const atUs: unknown = source.atUs;
      if (atUs !== undefined && (typeof atUs !== 'number' || !Number.isFinite(atUs))) {
        throw new CausewayError('invalid-argument', `generateVideo: atUs must be a finite number of microseconds, got ${JSON.stringify(atUs)}`);
      }
      list.push({ value, source, atUs: atUs ?? -Infinity, arrivedMs: nowMs() });
      list.sort((a, b) => a.atUs - b.atUs);
    };
    if (options.control$) {
      subs.push(options.control$.subscribe({ next: (c) => {
        try {
          take(controls, direction(c), c);
        } catch (e) {
          log.warn((e as Error).message);
        }
      }, error: fail }));
    }
    if (options.prompt$) {
      subs.push(options.prompt$.subscribe({ next: (p) => {
        try {
          take(prompts, sceneIndex(p.scene), p);
        } catch (e) {
          log.warn((e as Error).message);
        }
      }, error: fail }));
    }
    // Of all that are due by then, the one that arrived last wins (a newer 'stop' beats an older scheduled 'right').
    const due = <T, S>(list: Pending<T, S>[], pts: number): Pending<T, S> | undefined => {
      let last: Pending<T, S> | undefined;
      while (list.length > 0 && list[0].atUs <= pts) {
        const p = list.shift()!;
        if (!last || p.arrivedMs >= last.arrivedMs) last = p;
      }
      return last;
    };

    void (async () => {
      const stream = await VideoWorldStream.open(options.model ?? defaultVideoWorldModel(), options);
      try {
        const c = stream.config;
        if (c.condDim !== COND_DIM) throw new CausewayError('invalid-argument', `generateVideo: the model takes ${c.condDim} conditioning values; the synthetic world's scenes and commands are ${COND_DIM}`);
        let scene = firstScene;
        let [dx, dy] = [0, 0];
        /** What steered the frame being generated, reported as it leaves. */
        let steered: Pending<[number, number], VideoControl> | undefined;
        let switched: Pending<number, VideoPrompt> | undefined;
        const rgb = new Uint8Array(c.size * c.size * 3);
        const [x0, y0] = startPosition(scene, c.size, options.seed);
        const frame = toTokens(render(scene, x0, y0, c.size), c.size, c.patch);
        const cond = new Float32Array(c.condDim);
        const t0 = nowMs();
        /** A step's recent cost (ms, smoothed): how early before its deadline a frame is generated. */
        let stepMs = 2;
        const deadline = (n: number) => t0 + (n * 1000) / fps;
        for (let n = 0; n < limit && !stopped; n++) {
          const pts = Math.round((n * 1e6) / fps);
          if (n > 0) {
            // Frame n is generated just in time, as late as its deadline allows, so that a command
            // arriving meanwhile steers it (a control-to-frame latency of at most a frame and a step).
            if (pace === 'realtime') {
              const wait = deadline(n) - Math.min(500 / fps, 2 * stepMs + 2) - nowMs();
              if (wait > 0) await sleep(wait);
              if (stopped) break;
            }
            // What steers frame n: everything due by frame n - 1's time (or arrived, without one).
            const before = Math.round(((n - 1) * 1e6) / fps);
            const p = due(prompts, before);
            if (p) switched = p;
            if (p && p.value !== scene) {
              scene = p.value;
              const sc = scene;
              await stream.recache((k) => condVector(sc, k[SCENES.length], k[SCENES.length + 1], k));
            }
            const ctl = due(controls, before);
            if (ctl) {
              [dx, dy] = ctl.value;
              steered = ctl;
            }
            condVector(scene, dx, dy, cond);
            const t = nowMs();
            const next = await stream.step(frame, cond);
            stepMs = 0.8 * stepMs + 0.2 * (nowMs() - t);
            // In place: the stream copied the frame into its held frames, and `next` is reused by its next step.
            for (let i = 0; i < next.length; i++) frame[i] = Math.max(-1, Math.min(1, next[i]));
          }
          if (pace === 'realtime') {
            const wait = deadline(n) - nowMs();
            if (wait > 0) await sleep(wait);
          } else {
            await unpaused();
          }
          if (stopped) break;
          // Frame n shows the world; frame 0 is the scene's first frame, then each is the model's.
          fromTokens(frame, c.size, c.patch, rgb);
          const out: VideoFrame = { kind: 'video', pts, wallMs: nowMs(), width: c.size, height: c.size, format: 'rgb24', data: rgb.slice() };
          sharedMetrics.framesOut.inc({ operator: 'generate-video' });
          sharedMetrics.frameAgeMs.observe({ operator: 'generate-video' }, pace === 'realtime' ? out.wallMs - deadline(n) : 0);
          if (steered !== undefined) sharedMetrics.controlToFrameMs.observe({ operator: 'generate-video' }, out.wallMs - steered.arrivedMs);
          const applied: AppliedControl[] = [];
          if (switched) applied.push({ kind: 'prompt', prompt: switched.source, pts, latencyMs: out.wallMs - switched.arrivedMs });
          if (steered) applied.push({ kind: 'control', control: steered.source, pts, latencyMs: out.wallMs - steered.arrivedMs });
          steered = switched = undefined;
          sub.next(tagFlow(out, flow));
          for (const a of applied) options.onApplied?.(a);
        }
        if (!stopped) sub.complete();
      } finally {
        stream.dispose();
      }
    })().catch(fail);

    return () => {
      stopped = true;
      wake?.();
      for (const s of subs) s.unsubscribe();
    };
  });
}
