/**
 * `causeway binaural`: any input ffmpeg reads -> mono at the render rate -> binaural (measured
 * HRTFs, or with `engine: 'neural'` the binaural-flow model at its own rate, 48 kHz) -> stereo ->
 * any output ffmpeg writes (the format follows the output's extension). The neural engine's
 * frames wait in a 'pause' queue that holds ffmpeg back (FlowControl): a file is decoded as fast
 * as the model keeps up and nothing is dropped.
 *
 * The source sits at a fixed azimuth/elevation/distance, or follows a path of keyframes
 * "t:az,el[,d];..." (t in seconds on the input's timeline): between keyframes each coordinate
 * is interpolated linearly, azimuth numerically (so 0 -> 360 is a full turn to the left and
 * 0 -> -90 turns right), before the first and after the last the source holds still. The path
 * is sampled at every 10 ms input frame and the renderer glides between samples (20 ms time
 * constant), so the motion is smooth.
 *
 * Why the output queue is sized from the input: the ffmpeg output edge has no flow control back
 * to the input (only a byte bound), and a slow encoder (mp3, opus) writing a long file falls
 * behind the decoder. The bound is the whole rendered file plus 10% when its duration is known.
 */
import type { Device } from '../../core/onnx/session.js';
import { Subject, tap } from 'rxjs';
import type { SourcePosition } from '../../kernels/binaural-renderer.js';
import { ffmpegAudioOutput, writeDone } from '../../media/ffmpeg/index.js';
import { audioInput, probeInput } from './file-audio.js';
import { binaural } from '../../operators/binaural.js';
import { CausewayError, MediaError } from '../../core/errors.js';
import { defaultBinauralFlowModel, readBinauralFlowConfig } from '../../core/models/binaural-flow.js';
import { nowMs } from '../../core/frames.js';
import { sharedHrtfSet, type HrirInterpolation } from '../../core/hrtf/index.js';
import { logger } from '../../core/log.js';

export interface PathKey {
  /** Seconds on the input's timeline. */
  t: number;
  azimuth: number;
  elevation: number;
  /** Metres; a key without one keeps the previous key's (or the starting) distance. */
  distance?: number;
}

export interface BinauralFileOptions {
  azimuth?: number;
  elevation?: number;
  distance?: number;
  /** Keyframes (see parsePath); overrides azimuth/elevation. */
  path?: readonly PathKey[];
  /** SOFA file (default Debian's KEMAR). */
  sofa?: string;
  /** Render and output rate, Hz (default 48000). */
  sampleRate?: number;
  interpolation?: HrirInterpolation;
  blockSize?: number;
  /** 'hrtf' (default) or 'neural' (models/binaural-flow). */
  engine?: 'hrtf' | 'neural';
  /** Neural engine: the step graph (default the shipped model). */
  model?: string;
  /** Neural engine: room, 0 (anechoic, default) .. 1. */
  room?: number;
  /** Neural engine: ONNX execution provider (default 'auto'). */
  device?: Device;
  /** Neural engine: ONNX intra-op threads (default 1). */
  threads?: number;
}

export interface BinauralFileResult {
  /** Seconds of audio rendered. */
  seconds: number;
  wallSeconds: number;
  /** The HRTF set's name (hrtf engine) or the model's path (neural engine). */
  hrtf: string;
  /** Output samples beyond full scale (they clip in integer formats). */
  clipped: number;
}

const log = logger('binaural');

/** Parses "t:az,el[,d];t:az,el[,d];..." (seconds, degrees, degrees, metres); keys must be in time order. */
export function parsePath(spec: string): PathKey[] {
  const bad = (what: string) => new CausewayError('invalid-argument', `--path: ${what} (expected "t:az,el[,d];..." like "0:0,0;2:90,0;4:180,30,2")`);
  const keys: PathKey[] = [];
  for (const part of spec.split(';').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const m = /^([^:]+):([^,]+),([^,]+)(?:,([^,]+))?$/.exec(part);
    if (!m) throw bad(`cannot read '${part}'`);
    const [t, azimuth, elevation] = [m[1], m[2], m[3]].map(Number);
    const distance = m[4] === undefined ? undefined : Number(m[4]);
    if (![t, azimuth, elevation].every(Number.isFinite) || (distance !== undefined && !Number.isFinite(distance))) throw bad(`'${part}' holds something that is not a number`);
    if (t < 0) throw bad(`time ${t} in '${part}' is negative`);
    if (keys.length > 0 && t <= keys[keys.length - 1].t) throw bad(`time ${t} in '${part}' is not after ${keys[keys.length - 1].t}`);
    if (Math.abs(elevation) > 90) throw bad(`elevation ${elevation} in '${part}' is outside [-90, 90]`);
    if (distance !== undefined && !(distance > 0)) throw bad(`distance ${distance} in '${part}' must be > 0`);
    keys.push(distance === undefined ? { t, azimuth, elevation } : { t, azimuth, elevation, distance });
  }
  if (keys.length === 0) throw bad('no keyframes');
  return keys;
}

/** The path's position at `seconds` (see the file comment); `distance` fills keys that have none. */
export function positionOnPath(keys: readonly PathKey[], seconds: number, distance = 1): SourcePosition {
  const d: number[] = [];
  let last = distance;
  for (const k of keys) d.push((last = k.distance ?? last));
  if (seconds <= keys[0].t) return { azimuth: keys[0].azimuth, elevation: keys[0].elevation, distance: d[0] };
  for (let i = 1; i < keys.length; i++) {
    if (seconds < keys[i].t) {
      const a = keys[i - 1], b = keys[i];
      const f = (seconds - a.t) / (b.t - a.t);
      return { azimuth: a.azimuth + f * (b.azimuth - a.azimuth), elevation: a.elevation + f * (b.elevation - a.elevation), distance: d[i - 1] + f * (d[i] - d[i - 1]) };
    }
  }
  const z = keys[keys.length - 1];
  return { azimuth: z.azimuth, elevation: z.elevation, distance: d[d.length - 1] };
}

export async function renderBinauralFile(input: string, output: string, o: BinauralFileOptions = {}): Promise<BinauralFileResult> {
  const t0 = nowMs();
  const neural = o.engine === 'neural';
  const model = o.model ?? defaultBinauralFlowModel();
  const rate = neural ? readBinauralFlowConfig(model).sampleRate : o.sampleRate ?? 48000;
  const info = await probeInput(input);
  if (!info.audio) throw new MediaError('no-audio-stream', `${input}: no audio stream`);
  const hrtf = neural ? undefined : await sharedHrtfSet(o.sofa);
  const path = o.path;
  const start = path ? positionOnPath(path, 0, o.distance) : { azimuth: o.azimuth ?? 0, elevation: o.elevation ?? 0, distance: o.distance ?? 1 };
  const position$ = new Subject<SourcePosition>();
  let samples = 0;
  let clipped = 0;
  await writeDone(
    audioInput(input, rate, { frameMs: 10 }).pipe(
      tap((f) => {
        samples += f.data.length;
        if (path) position$.next(positionOnPath(path, f.pts / 1e6, o.distance));
      }),
      neural
        ? binaural({ engine: 'neural', model, room: o.room, device: o.device, threads: o.threads, ...start, position$, sampleRate: rate, queue: { capacity: 32 } })
        : binaural({ hrtf, ...start, position$, interpolation: o.interpolation, blockSize: o.blockSize, sampleRate: rate }),
      tap((f) => {
        for (const v of f.data) if (v > 1 || v < -1) clipped++;
      }),
      // The rendered frames carry the input's flow control: a slow encoder pauses the decoder.
      ffmpegAudioOutput(output, { sampleRate: rate, channels: 2 }),
    ),
  );
  if (clipped > 0) log.warn(`${clipped} output sample(s) beyond full scale in ${output}: lower the input level or raise the distance`);
  return { seconds: samples / rate, wallSeconds: (nowMs() - t0) / 1000, hrtf: hrtf ? hrtf.name : `binaural-flow ${model}`, clipped };
}
