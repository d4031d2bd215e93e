/**
 * A live VP8 decoder: one ffmpeg child reading IVF on stdin and writing raw frames of a fixed
 * size and pixel format on stdout (scaled: downstream models get fixed shapes whatever the
 * camera sends, and ffmpeg rebuilds its scaler when the camera changes resolution mid-stream).
 *
 * Latency: measured with ffmpeg 5.1, decoding is a frame behind unless *both* the decoder and
 * the rawvideo encoder run with `-threads 1` (each thread adds a frame of delay); so set, a
 * 640x480 frame comes out ~2-3 ms after it went in. `-flush_packets 1` stops frames waiting in
 * the output buffer.
 *
 * Matching output to input: rawvideo carries no timestamps, so every frame written that will be
 * shown gets a tag in a FIFO and every frame read takes the oldest one. That holds only if
 * ffmpeg never drops a frame, hence `-xerror`: a decode error ends the process instead of
 * silently skipping a frame (and shifting every later tag). The process is then restarted at
 * the next key frame, which `onKeyframeNeeded` asks for. Frames are only written from a key
 * frame on, complete and in order (RtpVideoReceiver sees to it), so this is rare.
 *
 * Bounded: once decoding runs, a frame that finds the oldest one inside ffmpeg waiting for more
 * than `maxLagMs` is dropped (counted) and decoding resumes at the next key frame, so a decoder
 * slower than real time costs frames, not latency; `maxInFlight` bounds memory at any time,
 * including the ~100-300 ms ffmpeg takes to start, when frames simply wait.
 */
import type { PixelFormat } from '../../core/frames.js';
import { logger } from '../../core/log.js';
import { describeExit, isSpawnEnoent, lastMeaningful } from './errors.js';
import { ivfFileHeader, ivfFrameHeader } from './ivf.js';
import { QUIET_ARGS, resolveFfmpegPath, spawnFfmpeg, type FfmpegExit, type FfmpegProcess } from './process.js';
import { FrameReader } from './reader.js';
import { videoFrameBytes } from './video-input.js';

const log = logger('vp8-decoder');

export interface Vp8DecoderOptions<T> {
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  /** Frames inside ffmpeg before new ones are dropped (default 60). */
  readonly maxInFlight?: number;
  /** Once frames come out, the longest a frame may wait inside ffmpeg before new ones are dropped (default 500 ms). */
  readonly maxLagMs?: number;
  readonly ffmpegPath?: string;
  /** A decoded frame (a fresh buffer the receiver owns) with the tag it was written with. */
  readonly onFrame: (data: Uint8Array, tag: T, decodeMs: number) => void;
  /** Frames were dropped or the decoder restarted: decoding resumes at the next key frame. */
  readonly onKeyframeNeeded: () => void;
  /** ffmpeg ended on its own (crashed, killed): what happened and what follows, in one line. */
  readonly onProcessEnded?: (message: string) => void;
}

export interface Vp8DecoderStats {
  framesIn: number;
  framesOut: number;
  framesDropped: number;
  restarts: number;
  /** Write-to-output time per frame, ms, averaged over the last ~10 frames (EWMA). */
  decodeMs: number;
}

/** Consecutive failed runs (no frame out) after which we stop restarting ffmpeg. */
const MAX_FAILED_RUNS = 3;

interface Pending<T> {
  readonly tag: T;
  readonly writtenMs: number;
}

interface Run<T> {
  readonly proc: FfmpegProcess;
  readonly reader: FrameReader;
  readonly pending: Pending<T>[];
  headerWritten: boolean;
  written: number;
  framesOut: number;
}

export class FfmpegVp8Decoder<T> {
  readonly stats: Vp8DecoderStats = { framesIn: 0, framesOut: 0, framesDropped: 0, restarts: 0, decodeMs: 0 };
  private readonly frameBytes: number;
  private readonly maxInFlight: number;
  private readonly maxLagMs: number;
  private run: Run<T> | undefined;
  private readonly exits = new Set<Promise<FfmpegExit>>();
  private waitKeyframe = true;
  private failedRuns = 0;
  private gaveUp = false;
  private closed = false;

  constructor(private readonly options: Vp8DecoderOptions<T>) {
    this.frameBytes = videoFrameBytes(options.width, options.height, options.pixelFormat);
    this.maxInFlight = options.maxInFlight ?? 60;
    this.maxLagMs = options.maxLagMs ?? 500;
  }

  /** pid of the running ffmpeg, if any (tests check it is gone after close). */
  get pid(): number | undefined {
    return this.run?.proc.pid;
  }

  /** Starts ffmpeg now if it is not running, so that its start-up overlaps the first frame's arrival. */
  start(): void {
    if (this.run === undefined && !this.closed && !this.gaveUp) this.spawn();
  }

  decode(frame: Uint8Array, keyframe: boolean, tag: T, shown = true): void {
    if (this.closed) return;
    this.stats.framesIn++;
    if (this.gaveUp || (this.waitKeyframe && !keyframe)) return this.drop();
    this.start();
    const run = this.run;
    if (run === undefined) return this.drop();
    const oldest = run.pending[0];
    const lagging = run.framesOut > 0 && oldest !== undefined && performance.now() - oldest.writtenMs > this.maxLagMs;
    if (run.pending.length >= this.maxInFlight || lagging) {
      this.waitKeyframe = true;
      return this.drop();
    }
    const stdin = run.proc.stdin!;
    if (!run.headerWritten) {
      // The size is a hint only: the decoder takes it from the key frame. A 1/30 time base with
      // pts = frame count: with a fine one (1/90000) ffmpeg deems the time base unreliable and
      // probes 20 frames before decoding the first.
      stdin.write(ivfFileHeader(frame[6] | ((frame[7] & 0x3f) << 8), frame[8] | ((frame[9] & 0x3f) << 8), 30));
      run.headerWritten = true;
    }
    stdin.write(ivfFrameHeader(frame.length, run.written++));
    stdin.write(frame);
    if (keyframe) this.waitKeyframe = false;
    if (shown) run.pending.push({ tag, writtenMs: performance.now() });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await Promise.all(this.exits);
  }

  private drop(): void {
    this.stats.framesDropped++;
    this.options.onKeyframeNeeded();
  }

  private spawn(): void {
    const { width, height, pixelFormat } = this.options;
    const args = [
      ...QUIET_ARGS,
      '-xerror',
      '-threads', '1',
      '-f', 'ivf',
      '-i', 'pipe:0',
      '-map', '0:v:0',
      '-vf', `scale=${width}:${height}`,
      '-pix_fmt', pixelFormat,
      '-c:v', 'rawvideo',
      '-threads', '1',
      '-fps_mode', 'passthrough',
      '-flush_packets', '1',
      '-f', 'rawvideo',
      'pipe:1',
    ];
    const proc = spawnFfmpeg(resolveFfmpegPath(this.options.ffmpegPath), args, { stdin: 'pipe', stdout: 'pipe' });
    const run: Run<T> = {
      proc,
      pending: [],
      headerWritten: false,
      written: 0,
      framesOut: 0,
      reader: new FrameReader(proc.stdout!, {
        frameBytes: this.frameBytes,
        partialUnitBytes: 0,
        onFrame: (bytes) => this.onOutput(run, bytes),
        onDone: () => {},
      }),
    };
    this.run = run;
    this.exits.add(proc.exited);
    void proc.exited.then((exit) => {
      this.exits.delete(proc.exited);
      this.onExit(run, exit);
    });
  }

  private onOutput(run: Run<T>, bytes: Uint8Array): void {
    const p = run.pending.shift();
    if (this.closed || run !== this.run || p === undefined) return;
    const ms = performance.now() - p.writtenMs;
    run.framesOut++;
    this.failedRuns = 0;
    this.stats.framesOut++;
    this.stats.decodeMs = this.stats.framesOut === 1 ? ms : 0.9 * this.stats.decodeMs + 0.1 * ms;
    this.options.onFrame(bytes, p.tag, ms);
  }

  private onExit(run: Run<T>, exit: FfmpegExit): void {
    run.reader.dispose();
    if (run !== this.run) return;
    this.run = undefined;
    if (this.closed || exit.killedByUs) return;
    this.stats.framesDropped += run.pending.length;
    this.stats.restarts++;
    if (run.framesOut === 0) this.failedRuns++;
    const why = exit.spawnError !== undefined ? exit.spawnError.message : `${describeExit(exit.code, exit.signal)}: ${lastMeaningful(exit.stderr) || 'no message'}`;
    if (isSpawnEnoent(exit.spawnError) || this.failedRuns >= MAX_FAILED_RUNS) {
      this.gaveUp = true;
      const message = `VP8 decoding stopped (ffmpeg ${why}); the session goes on without video in`;
      log.error(message);
      this.options.onProcessEnded?.(message);
      return;
    }
    const message = `ffmpeg VP8 decoder ended (${why}); restarting at the next key frame`;
    log.warn(message);
    this.options.onProcessEnded?.(message);
    this.waitKeyframe = true;
    this.options.onKeyframeNeeded();
  }

  private stop(): void {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    run.reader.dispose();
    run.proc.kill();
  }
}
