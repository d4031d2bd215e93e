/**
 * The shared life cycle of an ffmpeg input: one process per subscription.
 *
 *   subscribe -> stat the source (not found / empty) -> [ffprobe when needed] -> spawn ffmpeg
 *   -> cut stdout into frames -> ffmpeg exits:
 *        0        -> every frame emitted -> truncation check -> complete (or 'corrupt-input')
 *        non-zero -> every frame emitted -> typed error from stderr
 *   unsubscribe -> reader disposed (timer cleared, listeners removed) -> ffmpeg killed
 *   (pipes closed, SIGTERM, SIGKILL after 500 ms); Node reaps the child, no zombie.
 *
 * Backpressure: a source that is not live (a file, a lavfi graph, an HTTP download) is decoded as
 * fast as the consumer takes it: every frame carries the subscription's FlowControl (`tagFlow`),
 * so the bounded queue of a model operator downstream pauses ffmpeg by default instead of
 * dropping (core/serial-queue.ts). A live source (realtime pacing, a streaming protocol, a
 * capture device, `-re`, or `live: true`) emits untagged frames: queues drop the oldest.
 *
 * If the subscriber unsubscribes while ffprobe runs (files only, a few tens of ms), that ffprobe
 * is left to finish on its own (fluent-ffmpeg gives no handle to kill it); ffmpeg is never started.
 */
import { Observable, type Subscriber } from 'rxjs';
import { isCausewayError, MediaError } from '../../core/errors.js';
import { FlowControl, tagFlow } from '../../core/flow.js';
import {
  classifyFailure,
  corruptInput,
  describeExit,
  describeSource,
  ffmpegMissing,
  isSpawnEnoent,
  type StreamKind,
} from './errors.js';
import { probeDetailed, type DetailedInfo } from './probe.js';
import { QUIET_ARGS, resolveFfmpegPath, spawnFfmpeg, type FfmpegProcess } from './process.js';
import { cutShort, inputTimeout, networkDeadlines, timeoutVerdict } from './network.js';
import { FrameReader } from './reader.js';
import { inspectSource, optionValue, type SourceInfo } from './source.js';
import { truncationCheck } from './truncation.js';

/** Options every ffmpeg input (audio or video) takes. */
export interface FfmpegInputCommonOptions {
  /** Extra ffmpeg input arguments placed before `-i`, e.g. `['-f', 'lavfi']`. */
  readonly inputOptions?: readonly string[];
  /**
   * Backpressure for file-speed decoding (ignored with `realtime`): while `flow.paused`, no frame
   * is emitted and ffmpeg is held back through the pipe (takes effect at the next frame boundary).
   * Default: one per subscription, carried by the frames, which queues downstream find on their
   * own; pass one only to pause the input from elsewhere too.
   */
  readonly flow?: FlowControl;
  /**
   * A live source cannot wait: its frames carry no FlowControl and queues downstream drop the
   * oldest instead of pausing it. Default: true with `realtime`, for streaming protocols (rtsp,
   * rtmp, srt, udp, rtp, ...), capture devices (`-f alsa`, `-f v4l2`, /dev/...) and `-re`.
   */
  readonly live?: boolean;
  /** ffmpeg binary; default $FFMPEG_PATH or `ffmpeg` on PATH. */
  readonly ffmpegPath?: string;
  /** ffprobe binary (used for the truncation check of files); default $FFPROBE_PATH or `ffprobe`. */
  readonly ffprobePath?: string;
  /**
   * How long a network input may stay silent, ms (default 10 s; 0: wait forever): a server that
   * accepts and sends nothing, or stops sending, fails with 'input-timeout' (see network.ts).
   */
  readonly timeoutMs?: number;
}

export interface InputPlan<T> {
  /** ffmpeg arguments between `-i <input>` and the `pipe:1` output. */
  readonly outputArgs: readonly string[];
  readonly frameBytes: number;
  /** See FrameReaderOptions.partialUnitBytes. */
  readonly partialUnitBytes: number;
  /** Bytes of output per second of media (for pacing and decoded duration). */
  readonly bytesPerSecond: number;
  /** Builds a frame; `byteOffset` is where `bytes` starts in the decoded stream. Called at emission. */
  readonly makeFrame: (bytes: Uint8Array, byteOffset: number) => T;
}

export interface InputSpec<T> extends FfmpegInputCommonOptions {
  readonly source: string;
  readonly kind: StreamKind;
  readonly realtime?: boolean;
  /** Realtime queue bound, in frames. */
  readonly maxQueuedFrames: number;
  readonly plan: (probe: () => Promise<DetailedInfo>, src: SourceInfo) => InputPlan<T> | Promise<InputPlan<T>>;
}

const LIVE_SCHEMES = new Set(['rtsp', 'rtsps', 'rtmp', 'rtmps', 'rtmpt', 'rtmpe', 'srt', 'udp', 'rtp', 'tcp', 'mms', 'mmsh', 'mmst', 'rist', 'zmq']);
const LIVE_FORMATS = new Set(['alsa', 'pulse', 'oss', 'jack', 'sndio', 'openal', 'v4l2', 'video4linux2', 'x11grab', 'kmsgrab', 'fbdev', 'avfoundation', 'dshow', 'gdigrab', 'decklink']);

/** Whether an input is live (see FfmpegInputCommonOptions.live) when the caller does not say. */
export function isLiveInput(source: string, o: { realtime?: boolean; live?: boolean; inputOptions?: readonly string[] }): boolean {
  if (o.realtime === true) return true;
  if (o.live !== undefined) return o.live;
  const args = o.inputOptions ?? [];
  const format = optionValue(args, '-f');
  if (args.includes('-re') || (format !== undefined && LIVE_FORMATS.has(format))) return true;
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(source)?.[1]?.toLowerCase();
  return (scheme !== undefined && LIVE_SCHEMES.has(scheme)) || source.startsWith('/dev/');
}

export function ffmpegInput<T>(spec: InputSpec<T>): Observable<T> {
  const live = isLiveInput(spec.source, spec);
  return new Observable<T>((subscriber) => {
    const state: RunState = { closed: false };
    const release = (): void => {
      state.unlistenFlow?.();
      state.unlistenFlow = undefined;
      state.reader?.dispose();
    };
    run(spec, live ? undefined : spec.flow ?? new FlowControl(), subscriber, state).then(
      () => {
        release();
        if (!state.closed) subscriber.complete();
      },
      (err: unknown) => {
        release();
        if (!state.closed) subscriber.error(asMediaError(err, spec.source));
      },
    );
    return () => {
      state.closed = true;
      release();
      state.abortReader?.();
      state.proc?.kill();
    };
  });
}

interface RunState {
  closed: boolean;
  proc?: FfmpegProcess;
  reader?: FrameReader;
  unlistenFlow?: (() => void) | undefined;
  /** Settles the wait for the reader when the subscriber leaves (a disposed reader never reports done). */
  abortReader?: () => void;
}

/** `flow`: what the frames carry and the reader obeys; undefined for a live source. */
async function run<T>(spec: InputSpec<T>, flow: FlowControl | undefined, subscriber: Subscriber<T>, state: RunState): Promise<void> {
  const inputOptions = spec.inputOptions ?? [];
  const src = await inspectSource(spec.source, inputOptions);
  let probed: Promise<DetailedInfo> | undefined;
  const probe = (): Promise<DetailedInfo> =>
    (probed ??= probeDetailed(src, {
      inputOptions,
      ...(spec.ffprobePath !== undefined ? { ffprobePath: spec.ffprobePath } : {}),
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    }));
  const plan = await spec.plan(probe, src);
  const truncation = await truncationCheck(src, spec.kind, inputOptions, probe);
  if (state.closed) return;

  const binary = resolveFfmpegPath(spec.ffmpegPath);
  const net = networkDeadlines(src, inputOptions, spec.timeoutMs);
  const args = [...QUIET_ARGS, ...(net !== undefined ? [...net.args, '-loglevel', 'warning'] : []), ...inputOptions, '-i', src.ffmpegArg, ...plan.outputArgs, 'pipe:1'];
  const proc = spawnFfmpeg(binary, args, { stdin: 'ignore', stdout: 'pipe' });
  state.proc = proc;

  let decodedBytes = 0;
  /** Set when the no-data watchdog stopped ffmpeg. */
  let silentFor: number | undefined;
  const readerDone = new Promise<{ bytes: number }>((resolve) => {
    state.abortReader = () => resolve({ bytes: decodedBytes });
    state.reader = new FrameReader(proc.stdout!, {
      frameBytes: plan.frameBytes,
      partialUnitBytes: plan.partialUnitBytes,
      ...(spec.realtime === true
        ? { realtime: { bytesPerSecond: plan.bytesPerSecond, maxQueuedFrames: spec.maxQueuedFrames } }
        : {}),
      onFrame: (bytes) => {
        const offset = decodedBytes;
        decodedBytes += bytes.length;
        if (!subscriber.closed) subscriber.next(tagFlow(plan.makeFrame(bytes, offset), flow));
      },
      onDone: resolve,
      ...(net !== undefined ? { idle: { firstMs: net.firstDataMs, gapMs: net.gapMs, onIdle: () => { silentFor = state.reader?.idleMs() ?? net.gapMs; proc.kill(); } } } : {}),
    });
  });
  if (flow !== undefined && spec.realtime !== true) {
    const reader = state.reader!;
    reader.setPaused(flow.paused);
    const off = flow.onChange((paused) => reader.setPaused(paused));
    state.unlistenFlow = () => {
      off();
    };
  }

  const exit = await proc.exited;
  if (state.closed) return;
  if (exit.spawnError !== undefined) {
    state.reader?.dispose();
    if (isSpawnEnoent(exit.spawnError)) throw ffmpegMissing(binary, { source: spec.source, role: 'input' }, exit.spawnError);
    throw new MediaError('ffmpeg-failed', `could not start ffmpeg for input ${describeSource(spec.source)}: ${exit.spawnError.message}`, {
      cause: exit.spawnError,
    });
  }
  // All frames decoded so far go out first (paced, when realtime), then the verdict.
  const { bytes } = await readerDone;
  if (state.closed) return;
  if (silentFor !== undefined) throw inputTimeout(spec.source, silentFor);
  if (exit.code !== 0) {
    const failure = classifyFailure(
      { source: spec.source, ffmpegArg: src.ffmpegArg, role: 'input', kind: spec.kind, localFile: src.localFile },
      exit.stderr,
      describeExit(exit.code, exit.signal),
    );
    throw timeoutVerdict(failure, spec.source, net, state.reader?.idleMs() ?? 0);
  }
  const cut = cutShort(spec.source, exit.stderr, net);
  if (cut !== undefined) throw cut;
  const verdict = truncation?.verdict(bytes / plan.bytesPerSecond);
  if (verdict !== undefined) throw corruptInput(spec.source, verdict);
}

/** Keeps typed errors as they are; anything else becomes an 'ffmpeg-failed' MediaError naming the input. */
export function asMediaError(err: unknown, source: string): Error {
  if (isCausewayError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new MediaError('ffmpeg-failed', `ffmpeg input ${describeSource(source)} failed: ${msg.split('\n')[0]}`, { cause: err });
}
