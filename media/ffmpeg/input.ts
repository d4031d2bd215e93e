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
 * If the subscriber unsubscribes while ffprobe runs (files only, a few tens of ms), that ffprobe
 * is left to finish on its own (fluent-ffmpeg gives no handle to kill it); ffmpeg is never started.
 */
import { Observable, type Subscriber } from 'rxjs';
import { isCausewayError, MediaError } from '../../src/core/errors.js';
import type { FlowControl } from '../../src/core/flow.js';
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
import { FrameReader } from './reader.js';
import { inspectSource, type SourceInfo } from './source.js';
import { truncationCheck } from './truncation.js';

/** Options every ffmpeg input (audio or video) takes. */
export interface FfmpegInputCommonOptions {
  /** Extra ffmpeg input arguments placed before `-i`, e.g. `['-f', 'lavfi']`. */
  readonly inputOptions?: readonly string[];
  /**
   * Backpressure for file-speed decoding (ignored with `realtime`): while `flow.paused`, no frame
   * is emitted and ffmpeg is held back through the pipe (takes effect at the next frame boundary).
   * Share it with a bounded queue downstream (serialMap's 'pause' policy).
   */
  readonly flow?: FlowControl;
  /** ffmpeg binary; default $FFMPEG_PATH or `ffmpeg` on PATH. */
  readonly ffmpegPath?: string;
  /** ffprobe binary (used for the truncation check of files); default $FFPROBE_PATH or `ffprobe`. */
  readonly ffprobePath?: string;
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

export function ffmpegInput<T>(spec: InputSpec<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const state: RunState = { closed: false };
    const release = (): void => {
      state.unlistenFlow?.();
      state.unlistenFlow = undefined;
      state.reader?.dispose();
    };
    run(spec, subscriber, state).then(
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

async function run<T>(spec: InputSpec<T>, subscriber: Subscriber<T>, state: RunState): Promise<void> {
  const inputOptions = spec.inputOptions ?? [];
  const src = await inspectSource(spec.source, inputOptions);
  let probed: Promise<DetailedInfo> | undefined;
  const probe = (): Promise<DetailedInfo> =>
    (probed ??= probeDetailed(src, {
      inputOptions,
      ...(spec.ffprobePath !== undefined ? { ffprobePath: spec.ffprobePath } : {}),
    }));
  const plan = await spec.plan(probe, src);
  const truncation = await truncationCheck(src, spec.kind, inputOptions, probe);
  if (state.closed) return;

  const binary = resolveFfmpegPath(spec.ffmpegPath);
  const args = [...QUIET_ARGS, ...inputOptions, '-i', src.ffmpegArg, ...plan.outputArgs, 'pipe:1'];
  const proc = spawnFfmpeg(binary, args, { stdin: 'ignore', stdout: 'pipe' });
  state.proc = proc;

  let decodedBytes = 0;
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
        if (!subscriber.closed) subscriber.next(plan.makeFrame(bytes, offset));
      },
      onDone: resolve,
    });
  });
  const flow = spec.flow;
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
  if (exit.code !== 0) {
    throw classifyFailure(
      { source: spec.source, ffmpegArg: src.ffmpegArg, role: 'input', kind: spec.kind, localFile: src.localFile },
      exit.stderr,
      describeExit(exit.code, exit.signal),
    );
  }
  const verdict = truncation?.verdict(bytes / plan.bytesPerSecond);
  if (verdict !== undefined) throw corruptInput(spec.source, verdict);
}

/** Keeps typed errors as they are; anything else becomes an 'ffmpeg-failed' MediaError naming the input. */
export function asMediaError(err: unknown, source: string): Error {
  if (isCausewayError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new MediaError('ffmpeg-failed', `ffmpeg input ${describeSource(source)} failed: ${msg.split('\n')[0]}`, { cause: err });
}
