/**
 * `causeway generate`: video from the video-world model to a file through ffmpeg, every frame
 * generated (pace 'asap', under flow control: nothing dropped), steered by a command script.
 */
import { from, lastValueFrom } from 'rxjs';
import { ffmpegVideoOutput } from '../../media/ffmpeg/index.js';
import { nowMs } from '../../core/frames.js';
import { CausewayError } from '../../core/errors.js';
import { COMMANDS } from '../../core/models/video-world-scenes.js';
import { readVideoWorldConfig, defaultVideoWorldModel } from '../../core/models/video-world.js';
import type { Device } from '../../core/onnx/session.js';
import { generateVideo, sceneIndex, type VideoCommand, type VideoControl, type VideoPrompt } from '../../operators/generate-video.js';

export interface GenerateFileOptions {
  frames: number;
  fps?: number;
  /** The first scene, by index or name. */
  prompt?: string;
  /** "t:action;t:action": at t seconds a command (stop, left, right, up, down) or a scene (scene=NAME). */
  controls?: string;
  /** Where the object starts, drawn from this seed (default: the centre). */
  seed?: number;
  model?: string;
  device?: Device;
  threads?: number;
}

export interface Steering {
  controls: VideoControl[];
  prompts: VideoPrompt[];
}

/** Parses "t:action;...": t in seconds (source time), action a command or scene=NAME|INDEX. */
export function parseControls(script: string): Steering {
  const out: Steering = { controls: [], prompts: [] };
  for (const part of script.split(';').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d+(?:\.\d+)?)\s*:\s*(\S+)$/.exec(part);
    if (!m) throw new CausewayError('invalid-argument', `--controls: '${part}' is not t:action (e.g. "0.5:right;2:scene=dots")`);
    const atUs = Math.round(Number(m[1]) * 1e6);
    const action = m[2];
    if (action.startsWith('scene=')) {
      const name = action.slice('scene='.length);
      const scene = /^\d+$/.test(name) ? Number(name) : name;
      sceneIndex(scene);
      out.prompts.push({ scene, atUs });
    } else if (action in COMMANDS) {
      out.controls.push({ command: action as VideoCommand, atUs });
    } else {
      throw new CausewayError('invalid-argument', `--controls: unknown action '${action}' at ${m[1]} s (commands: ${Object.keys(COMMANDS).join(', ')}; or scene=NAME)`);
    }
  }
  return out;
}

/** ffmpeg's encoder for the target's extension: H.264 in .mp4/.mkv, VP8 in .webm, raw frames in .y4m. */
function encoderArgs(target: string): string[] {
  const ext = /\.([a-z0-9]+)$/i.exec(target)?.[1]?.toLowerCase();
  if (ext === 'mp4' || ext === 'mkv' || ext === 'mov') return ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p'];
  if (ext === 'webm') return ['-c:v', 'libvpx', '-b:v', '1M', '-deadline', 'good', '-cpu-used', '4'];
  if (ext === 'y4m') return ['-pix_fmt', 'yuv444p'];
  return [];
}

export async function generateFile(target: string, o: GenerateFileOptions): Promise<{ frames: number; seconds: number; wallSeconds: number; size: number }> {
  if (!Number.isInteger(o.frames) || o.frames < 1) throw new CausewayError('invalid-argument', `frames must be a positive integer, got ${o.frames}`);
  const fps = o.fps ?? 15;
  const model = o.model ?? defaultVideoWorldModel();
  const { size } = readVideoWorldConfig(model);
  const steer = parseControls(o.controls ?? '');
  const t0 = nowMs();
  await lastValueFrom(
    generateVideo({
      model,
      fps,
      frames: o.frames,
      pace: 'asap',
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      scene: o.prompt === undefined ? 0 : /^\d+$/.test(o.prompt) ? Number(o.prompt) : o.prompt,
      control$: from(steer.controls),
      prompt$: from(steer.prompts),
      device: o.device,
      threads: o.threads,
    }).pipe(ffmpegVideoOutput(target, { width: size, height: size, pixelFormat: 'rgb24', fps, outputOptions: encoderArgs(target) })),
    { defaultValue: undefined },
  );
  return { frames: o.frames, seconds: o.frames / fps, wallSeconds: (nowMs() - t0) / 1000, size };
}
