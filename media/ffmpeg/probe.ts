/**
 * ffprobe through fluent-ffmpeg (its ffprobe runner is small and adequate: it spawns
 * `ffprobe -show_streams -show_format <options> <input>` once and parses the output).
 * This file and process.ts are the only places that know how ffmpeg is run.
 */
import ffmpeg from 'fluent-ffmpeg';
import type { MediaError } from '../../core/errors.js';
import {
  classifyFailure,
  corruptInput,
  describeExit,
  ffmpegMissing,
  isSpawnEnoent,
} from './errors.js';
import { inputTimeout, networkDeadlines, timeoutVerdict } from './network.js';
import { resolveFfprobePath } from './process.js';
import { inspectSource, optionValue, type SourceInfo } from './source.js';

export interface MediaInfo {
  /** Container duration, when declared (absent for live streams and infinite sources). */
  readonly durationSec?: number;
  /** The first audio stream. */
  readonly audio?: { readonly sampleRate: number; readonly channels: number; readonly codec: string };
  /** The first video stream. `fps` is the average frame rate (or the base rate when unknown). */
  readonly video?: { readonly width: number; readonly height: number; readonly fps: number; readonly codec: string };
}

export interface ProbeOptions {
  /** Extra ffprobe input options; only `-f <format>` is passed on (other ffmpeg input options are ffmpeg-only). */
  readonly inputOptions?: readonly string[];
  /** ffprobe binary; default $FFPROBE_PATH or `ffprobe` on PATH. */
  readonly ffprobePath?: string;
  /**
   * How long a network input may stay silent, ms (default 10 s; 0: wait forever). A silent
   * server fails with 'input-timeout' (see network.ts).
   */
  readonly timeoutMs?: number;
}

/** @internal What the edges need beyond MediaInfo. */
export interface DetailedInfo {
  readonly formatName?: string;
  readonly durationSec?: number;
  readonly audio?: {
    readonly sampleRate: number;
    readonly channels: number;
    readonly codec: string;
    readonly durationSec?: number;
  };
  readonly video?: {
    readonly width: number;
    readonly height: number;
    readonly codec: string;
    /** Frame rate as a rational, e.g. 30000/1001. */
    readonly fps?: { readonly num: number; readonly den: number };
    readonly durationSec?: number;
  };
}

/** Probes any path or URL ffprobe opens. Errors are MediaErrors with the same codes as the inputs. */
export async function probeMedia(source: string, options: ProbeOptions = {}): Promise<MediaInfo> {
  const src = await inspectSource(source, options.inputOptions);
  const d = await probeDetailed(src, options);
  const fps = d.video?.fps;
  return {
    ...(d.durationSec !== undefined ? { durationSec: d.durationSec } : {}),
    ...(d.audio !== undefined
      ? { audio: { sampleRate: d.audio.sampleRate, channels: d.audio.channels, codec: d.audio.codec } }
      : {}),
    ...(d.video !== undefined
      ? {
          video: {
            width: d.video.width,
            height: d.video.height,
            fps: fps !== undefined ? fps.num / fps.den : 0,
            codec: d.video.codec,
          },
        }
      : {}),
  };
}

/** @internal */
export function probeDetailed(src: SourceInfo, options: ProbeOptions = {}): Promise<DetailedInfo> {
  const binary = resolveFfprobePath(options.ffprobePath);
  const format = optionValue(options.inputOptions, '-f');
  const net = networkDeadlines(src, options.inputOptions, options.timeoutMs);
  const args = ['-v', 'error', ...(net?.args ?? []), ...(format !== undefined ? ['-f', format] : [])];
  const t0 = performance.now();
  return new Promise<DetailedInfo>((resolve, reject) => {
    let settled = false;
    // Our own deadline, for a protocol without a socket timeout. fluent-ffmpeg gives no handle on
    // its ffprobe to kill; with the socket timeout in its arguments it ends on its own.
    const deadline = net === undefined ? undefined : setTimeout(() => {
      settled = true;
      reject(inputTimeout(src.source, net.probeMs, 'gave no stream information'));
    }, net.probeMs);
    // fluent-ffmpeg keeps the ffprobe path in a module-wide cache that it reads synchronously
    // when ffprobe() is called, so setting it right before each call is race-free.
    ffmpeg.setFfprobePath(binary);
    ffmpeg.ffprobe(src.ffmpegArg, args, (err: unknown, data: ffmpeg.FfprobeData | undefined) => {
      clearTimeout(deadline);
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) {
        reject(timeoutVerdict(probeError(err, src, binary), src.source, net, performance.now() - t0));
        return;
      }
      if (data === undefined) {
        reject(corruptInput(src.source, 'ffprobe returned no information'));
        return;
      }
      resolve(toDetailed(data));
    });
  });
}

function probeError(err: unknown, src: SourceInfo, binary: string): MediaError {
  if (isSpawnEnoent(err) || (err instanceof Error && /Cannot find ffprobe/i.test(err.message))) {
    return ffmpegMissing(binary, { source: src.source, role: 'input' }, err);
  }
  const message = err instanceof Error ? err.message : String(err);
  // fluent-ffmpeg: "ffprobe exited with code N\n<stderr>"
  const [first = '', ...stderr] = message.split(/\r?\n/);
  const code = /exited with code (\d+)/.exec(first)?.[1];
  const e = classifyFailure(
    { source: src.source, ffmpegArg: src.ffmpegArg, role: 'input', kind: 'audio', localFile: src.localFile },
    stderr,
    code !== undefined ? describeExit(Number(code), null) : first,
  );
  // classifyFailure says "ffmpeg failed"; here it was ffprobe.
  if (e.code === 'ffmpeg-failed') e.message = e.message.replace(/^ffmpeg failed/, 'ffprobe failed');
  return e;
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number.parseFloat(v) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

function rational(v: unknown): { num: number; den: number } | undefined {
  if (typeof v === 'number') return v > 0 ? { num: v, den: 1 } : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+(?:\.\d+)?))?$/.exec(v.trim());
  if (m === null) return undefined;
  const n = Number(m[1]);
  const d = m[2] !== undefined ? Number(m[2]) : 1;
  return n > 0 && d > 0 ? { num: n, den: d } : undefined;
}

function toDetailed(data: ffmpeg.FfprobeData): DetailedInfo {
  const streams = data.streams ?? [];
  const a = streams.find((s) => s.codec_type === 'audio');
  const v = streams.find((s) => s.codec_type === 'video');
  const durationSec = num(data.format?.duration);
  const formatName = typeof data.format?.format_name === 'string' ? data.format.format_name : undefined;
  let audio: DetailedInfo['audio'];
  if (a !== undefined) {
    const d = num(a.duration);
    audio = {
      sampleRate: num(a.sample_rate) ?? 0,
      channels: num(a.channels) ?? 0,
      codec: String(a.codec_name ?? 'unknown'),
      ...(d !== undefined ? { durationSec: d } : {}),
    };
  }
  let video: DetailedInfo['video'];
  if (v !== undefined) {
    const d = num(v.duration);
    const fps = rational(v.avg_frame_rate) ?? rational(v.r_frame_rate);
    video = {
      width: num(v.width) ?? 0,
      height: num(v.height) ?? 0,
      codec: String(v.codec_name ?? 'unknown'),
      ...(fps !== undefined ? { fps } : {}),
      ...(d !== undefined ? { durationSec: d } : {}),
    };
  }
  return {
    ...(formatName !== undefined ? { formatName } : {}),
    ...(durationSec !== undefined ? { durationSec } : {}),
    ...(audio !== undefined ? { audio } : {}),
    ...(video !== undefined ? { video } : {}),
  };
}
