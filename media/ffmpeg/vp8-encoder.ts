/**
 * A live VP8 encoder: one ffmpeg child (libvpx) reading raw frames on stdin and writing IVF on
 * stdout, with the settings that are real time on Debian's ffmpeg 5.1 (`-deadline 1 -cpu-used 8
 * -lag-in-frames 0 -error-resilient 1`; `-deadline realtime` is not) and `-threads 1`.
 *
 * Timing: ffmpeg numbers the raw frames 0, 1, 2, ... at the nominal `fps`, and with
 * `-fps_mode passthrough` the IVF pts of each output frame is that number, so each packet is
 * matched to the frame it encodes (its pts and wallMs) whatever the encoder does. The nominal
 * rate only steers rate control and the key frame spacing (`-g`).
 *
 * Key frames: every `keyframeIntervalSec` (at the nominal rate), and on demand
 * (`forceKeyframe`, for an RTCP PLI). ffmpeg has no way to be told "next frame is a key frame"
 * while it runs, so on demand means a new ffmpeg: the old one is killed (the frame or two inside
 * it are lost, counted) and the next frame goes to a fresh encoder, whose first frame is a key
 * frame. A start costs ~100 ms of CPU, so requests closer than `minForcedIntervalMs` to the
 * last key frame are ignored.
 *
 * Bounded: at most `maxInFlight` frames inside ffmpeg; frames beyond wait in a queue of
 * `maxQueue`, oldest dropped first (counted), so a slow encoder drops frames instead of growing
 * memory or latency. A change of frame size or pixel format restarts the encoder.
 */
import { CausewayError } from '../../core/errors.js';
import type { PixelFormat, VideoFrame } from '../../core/frames.js';
import { logger } from '../../core/log.js';
import { describeExit, isSpawnEnoent, lastMeaningful } from './errors.js';
import { IvfReader } from './ivf.js';
import { QUIET_ARGS, resolveFfmpegPath, spawnFfmpeg, type FfmpegExit, type FfmpegProcess } from './process.js';
import { videoFrameBytes } from './video-input.js';

const log = logger('vp8-encoder');

export interface Vp8EncoderOptions {
  /** Nominal frame rate (default 30): rate control and key frame spacing assume it. */
  readonly fps?: number;
  /** Target bitrate, kbit/s (default 600). */
  readonly bitrateKbps?: number;
  /** Regular key frames, seconds apart at the nominal rate (default 2). */
  readonly keyframeIntervalSec?: number;
  /** Least time between an on-demand key frame and the previous key frame (default 500 ms). */
  readonly minForcedIntervalMs?: number;
  /** Frames waiting for the encoder (default 3, drop-oldest). */
  readonly maxQueue?: number;
  /** Frames inside ffmpeg at once (default 2). */
  readonly maxInFlight?: number;
  readonly ffmpegPath?: string;
  readonly onPacket: (packet: EncodedVideoPacket) => void;
  /** ffmpeg ended on its own (crashed, killed): what happened and what follows, in one line. */
  readonly onProcessEnded?: (message: string) => void;
}

export interface EncodedVideoPacket {
  readonly data: Uint8Array;
  readonly keyframe: boolean;
  /** pts and wallMs of the frame it encodes. */
  readonly pts: number;
  readonly wallMs: number;
  readonly encodeMs: number;
}

export interface Vp8EncoderStats {
  framesIn: number;
  framesOut: number;
  keyframesOut: number;
  /** Frames dropped by the queue or lost in a restarted encoder. */
  framesDropped: number;
  restarts: number;
  keyframesForced: number;
  /** Write-to-output time per frame, ms, averaged over the last ~10 frames (EWMA). */
  encodeMs: number;
}

const FORMATS: readonly PixelFormat[] = ['rgb24', 'rgba', 'gray', 'yuv420p'];

export function checkVideoFrame(who: string, frame: VideoFrame): void {
  const why =
    frame?.kind !== 'video'
      ? 'not a video frame'
      : !FORMATS.includes(frame.format)
        ? `pixel format ${String(frame.format)}`
        : !(Number.isInteger(frame.width) && Number.isInteger(frame.height) && frame.width >= 2 && frame.height >= 2 && frame.width <= 8192 && frame.height <= 8192)
          ? `size ${frame.width}x${frame.height}`
          : !(frame.data instanceof Uint8Array) || frame.data.length !== videoFrameBytes(frame.width, frame.height, frame.format)
            ? `${frame.data?.length} bytes of data for ${frame.width}x${frame.height} ${frame.format}, expected ${videoFrameBytes(frame.width, frame.height, frame.format)}`
            : !Number.isSafeInteger(frame.pts)
              ? `pts ${frame.pts} is not an integer number of µs`
              : undefined;
  if (why !== undefined) throw new CausewayError('invalid-frame', `${who}: ${why}`);
}

interface InFlight {
  readonly pts: number;
  readonly wallMs: number;
  readonly writtenMs: number;
}

interface Run {
  readonly proc: FfmpegProcess;
  readonly geometry: string;
  readonly inFlight: Map<number, InFlight>;
  nextIndex: number;
}

export class FfmpegVp8Encoder {
  readonly stats: Vp8EncoderStats = { framesIn: 0, framesOut: 0, keyframesOut: 0, framesDropped: 0, restarts: 0, keyframesForced: 0, encodeMs: 0 };
  private readonly fps: number;
  private readonly maxQueue: number;
  private readonly maxInFlight: number;
  private queue: VideoFrame[] = [];
  private run: Run | undefined;
  private readonly exits = new Set<Promise<FfmpegExit>>();
  private lastKeyframeMs = -Infinity;
  private failedRuns = 0;
  private gaveUp = false;
  private closed = false;

  constructor(private readonly options: Vp8EncoderOptions) {
    this.fps = options.fps ?? 30;
    this.maxQueue = options.maxQueue ?? 3;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  get pid(): number | undefined {
    return this.run?.proc.pid;
  }

  /** Validates (throws 'invalid-frame') and queues a frame; ignored after close. */
  encode(frame: VideoFrame): void {
    checkVideoFrame('VP8 encoder', frame);
    if (this.closed || this.gaveUp) return;
    this.stats.framesIn++;
    this.queue.push(frame);
    if (this.queue.length > this.maxQueue) {
      this.queue.shift();
      this.stats.framesDropped++;
    }
    this.pump();
  }

  /** The next frame will be a key frame (by restarting ffmpeg); false when rate-limited. */
  forceKeyframe(): boolean {
    if (this.closed || this.run === undefined) return false;
    if (performance.now() - this.lastKeyframeMs < (this.options.minForcedIntervalMs ?? 500)) return false;
    this.stats.keyframesForced++;
    this.lastKeyframeMs = performance.now(); // the restart yields one: do not restart again for it
    this.stop();
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    this.stop();
    await Promise.all(this.exits);
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed && !this.gaveUp) {
      const frame = this.queue[0];
      const geometry = `${frame.width}x${frame.height}:${frame.format}`;
      if (this.run !== undefined && this.run.geometry !== geometry) this.stop();
      if (this.run === undefined) this.spawn(geometry, frame);
      const run = this.run!;
      if (run.inFlight.size >= this.maxInFlight) return;
      this.queue.shift();
      run.inFlight.set(run.nextIndex++, { pts: frame.pts, wallMs: frame.wallMs, writtenMs: performance.now() });
      run.proc.stdin!.write(frame.data);
    }
  }

  private spawn(geometry: string, frame: VideoFrame): void {
    const gop = Math.max(1, Math.round((this.options.keyframeIntervalSec ?? 2) * this.fps));
    const args = [
      ...QUIET_ARGS,
      '-f', 'rawvideo',
      '-pix_fmt', frame.format,
      '-s', `${frame.width}x${frame.height}`,
      '-r', String(this.fps),
      '-i', 'pipe:0',
      '-c:v', 'libvpx',
      '-deadline', '1',
      '-cpu-used', '8',
      '-lag-in-frames', '0',
      '-error-resilient', '1',
      '-b:v', `${this.options.bitrateKbps ?? 600}k`,
      '-g', String(gop),
      '-pix_fmt', 'yuv420p',
      '-threads', '1',
      '-fps_mode', 'passthrough',
      '-flush_packets', '1',
      '-f', 'ivf',
      'pipe:1',
    ];
    const proc = spawnFfmpeg(resolveFfmpegPath(this.options.ffmpegPath), args, { stdin: 'pipe', stdout: 'pipe' });
    const run: Run = { proc, geometry, inFlight: new Map(), nextIndex: 0 };
    const ivf = new IvfReader((f) => this.onOutput(run, f.pts, f.data));
    proc.stdout!.on('data', (chunk: Buffer) => {
      if (run !== this.run) return;
      try {
        ivf.push(chunk);
      } catch (e) {
        log.warn(`unreadable ffmpeg VP8 output (${(e as Error).message}); restarting the encoder`);
        this.stop();
        this.pump();
      }
    });
    this.run = run;
    this.exits.add(proc.exited);
    void proc.exited.then((exit) => {
      this.exits.delete(proc.exited);
      this.onExit(run, exit);
    });
  }

  private onOutput(run: Run, index: number, data: Uint8Array): void {
    const f = run.inFlight.get(index);
    if (f === undefined || run !== this.run || this.closed) return;
    run.inFlight.delete(index);
    // Frames before this one that produced nothing were dropped by the encoder.
    for (const k of run.inFlight.keys()) {
      if (k < index) {
        run.inFlight.delete(k);
        this.stats.framesDropped++;
      }
    }
    const keyframe = (data[0] & 0x01) === 0;
    const encodeMs = performance.now() - f.writtenMs;
    this.failedRuns = 0;
    this.stats.framesOut++;
    this.stats.encodeMs = this.stats.framesOut === 1 ? encodeMs : 0.9 * this.stats.encodeMs + 0.1 * encodeMs;
    if (keyframe) {
      this.stats.keyframesOut++;
      this.lastKeyframeMs = performance.now();
    }
    this.options.onPacket({ data, keyframe, pts: f.pts, wallMs: f.wallMs, encodeMs });
    this.pump();
  }

  private onExit(run: Run, exit: FfmpegExit): void {
    if (run !== this.run) return;
    this.run = undefined;
    if (this.closed || exit.killedByUs) return;
    this.stats.framesDropped += run.inFlight.size;
    this.stats.restarts++;
    if (++this.failedRuns >= 3 || isSpawnEnoent(exit.spawnError)) {
      this.gaveUp = true;
      this.queue = [];
      const why = exit.spawnError?.message ?? `${describeExit(exit.code, exit.signal)}: ${lastMeaningful(exit.stderr) || 'no message'}`;
      const message = `VP8 encoding stopped (ffmpeg ${why}); the session goes on without video out`;
      log.error(message);
      this.options.onProcessEnded?.(message);
      return;
    }
    const message = `ffmpeg VP8 encoder ended (${describeExit(exit.code, exit.signal)}: ${lastMeaningful(exit.stderr) || 'no message'}); restarting`;
    log.warn(message);
    this.options.onProcessEnded?.(message);
    this.pump();
  }

  /** Kills the running ffmpeg; frames inside it are lost (counted). */
  private stop(): void {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    this.stats.framesDropped += run.inFlight.size;
    if (!this.closed) this.stats.restarts++;
    run.proc.kill();
  }
}
