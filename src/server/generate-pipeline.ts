/**
 * The "generate" session pipeline: no model listens to the client; the video-world model
 * generates the session's video frame by frame (operators/generate-video.ts) and the client
 * steers it over the data channel. Chosen with `POST /whip?pipeline=generate` (docs/server.md).
 *
 * Messages in:
 * - `{ "type": "steer", "command": "left" | "right" | "up" | "down" | "stop", "t"?: any }` (or
 *   `dx`/`dy` in -1..1 instead of `command`);
 * - `{ "type": "scene", "scene": "checker" | 0..3, "t"?: any }`: a scene switch (KV re-cache).
 * Events out:
 * - `{ "type": "generate", "scenes": [...], "scene", "fps", "width", "height" }` once, first;
 * - `{ "type": "steered" | "scene", ..., "t", "pts", "latencyMs" }` as the first frame a message
 *   steered leaves the generator (`t` echoed, so a client can time the round trip itself);
 * - `{ "type": "error", "message" }` for a message it refuses (the session goes on).
 */
import { Observable, Subject } from 'rxjs';
import { generateVideo, sceneIndex, type VideoCommand, type VideoControl, type VideoPrompt } from '../../operators/generate-video.js';
import { CausewayError } from '../../core/errors.js';
import { COMMANDS, SCENES } from '../../core/models/video-world-scenes.js';
import { defaultVideoWorldModel, readVideoWorldConfig, VideoWorldStream } from '../../core/models/video-world.js';
import type { Device } from '../../core/onnx/session.js';
import type { OutEvent, SessionPipeline } from './session-pipeline.js';

export interface GeneratePipelineOptions {
  /** The video-world model's step.onnx (default: the shipped models/video-world/model). */
  model?: string;
  device?: Device;
  /** Frames per second (default 15). */
  fps?: number;
  /** The scene each session starts in (default 0, 'stripes'). */
  scene?: number | string;
}

type Message = { type: string; [k: string]: unknown };

/** The message as a control, or why it is refused. */
function steerOf(c: Message): VideoControl | string {
  if (c.command !== undefined) {
    return typeof c.command === 'string' && Object.hasOwn(COMMANDS, c.command)
      ? { command: c.command as VideoCommand }
      : `steer: command must be one of ${Object.keys(COMMANDS).join(', ')}`;
  }
  const out: { dx?: number; dy?: number } = {};
  for (const k of ['dx', 'dy'] as const) {
    const v = c[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) return `steer: ${k} must be a finite number`;
    out[k] = v;
  }
  return out;
}

export function generatePipeline(options: GeneratePipelineOptions = {}): SessionPipeline {
  const model = options.model ?? defaultVideoWorldModel();
  const device = options.device ?? 'auto';
  const fps = options.fps ?? 15;
  const firstScene = sceneIndex(options.scene ?? 0);
  if (!(fps > 0 && fps <= 240)) throw new CausewayError('invalid-argument', `generatePipeline: fps must be in (0, 240], got ${fps}`);
  const run: SessionPipeline = ({ control$ }) => {
    const size = readVideoWorldConfig(model).size;
    const controls = new Subject<VideoControl & { t?: unknown }>();
    const prompts = new Subject<VideoPrompt & { t?: unknown }>();
    const applied = new Subject<OutEvent>();
    const video$ = generateVideo({
      model,
      device,
      fps,
      scene: firstScene,
      control$: controls,
      prompt$: prompts,
      onApplied: (a) => {
        const common = { pts: a.pts, latencyMs: Math.round(a.latencyMs * 10) / 10 };
        if (a.kind === 'control') {
          const c = a.control as VideoControl & { t?: unknown };
          const how = c.command !== undefined ? { command: c.command } : { dx: c.dx ?? 0, dy: c.dy ?? 0 };
          const e = { type: 'steered', ...how, t: c.t, ...common };
          applied.next(e);
        } else {
          const p = a.prompt as VideoPrompt & { t?: unknown };
          const e = { type: 'scene', scene: SCENES[sceneIndex(p.scene)].name, t: p.t, ...common };
          applied.next(e);
        }
      },
    });
    const info = { type: 'generate', scenes: SCENES.map((s) => s.name), scene: SCENES[firstScene].name, fps, width: size, height: size };
    // The client's messages are read while the events are subscribed (the session's lifetime).
    const events$ = new Observable<OutEvent>((out) => {
      const refuse = (message: string) => {
        const e = { type: 'error', message };
        out.next(e);
      };
      out.next(info);
      const subs = applied.subscribe(out);
      subs.add(
        control$.subscribe((c) => {
          if (c.type === 'steer') {
            const s = steerOf(c);
            if (typeof s === 'string') refuse(s);
            else controls.next({ ...s, t: c.t });
          } else if (c.type === 'scene') {
            try {
              sceneIndex(c.scene as number | string);
              prompts.next({ scene: c.scene as number | string, t: c.t });
            } catch (e) {
              refuse(`scene: ${(e as Error).message}`);
            }
          } else if (c.type !== 'position') {
            refuse(`the generate pipeline takes 'steer' and 'scene' messages, not '${c.type}'`);
          }
        }),
      );
      return subs;
    });
    return { events$, video$ };
  };
  run.warm = () => VideoWorldStream.preload(model, { device });
  return run;
}
