/**
 * ffmpeg outputs as RxJS operators:
 *
 *   frames$.pipe(ffmpegAudioOutput('out.ogg', { sampleRate: 48000, channels: 1, outputOptions: ['-c:a', 'libopus'] }))
 *
 * returns an Observable<never> that starts ffmpeg on subscribe, writes every frame to ffmpeg's
 * stdin, and COMPLETES once the source completed and ffmpeg exited 0 (the file is finalised), or
 * ERRORS with a typed error: 'invalid-frame' (a frame does not match the declared format),
 * 'ffmpeg-missing', 'output-failed' (ffmpeg failed: bad codec, unwritable path, ...; the message
 * carries ffmpeg's last meaningful stderr line), 'queue-overflow', or the source's own error.
 * Unsubscribing (or any error) kills ffmpeg; whatever it wrote so far stays on disk.
 * `await writeDone(obs$)` turns it into a Promise.
 *
 * Backpressure: bytes go to stdin with `write()`; once it returns false nothing more is written
 * until 'drain'. Frames arriving meanwhile wait in a queue. A frame from a source that can pause
 * (it carries the source's FlowControl, core/flow.ts: a file input, generateVideo at 'asap',
 * and what syncMap/serialMap operators make of them) pauses that source until the queue is
 * written out, like an operator's bounded queue does: a file -> file run loses nothing and holds
 * little, however slow the encoder. A source that cannot pause (live, or behind an operator that
 * drops the tag, e.g. `map`) has its frames wait in a queue bounded by `maxQueuedBytes`
 * (default 64 MiB, about 3 minutes of 48 kHz stereo float); beyond it the output fails with
 * 'queue-overflow' rather than growing without bound.
 *
 * If ffmpeg exits 0 before the source ends (e.g. `-t 10` in outputOptions), the output completes
 * and the source is unsubscribed.
 *
 * Timing: frames are written back to back; their pts are not used (no gap filling). Video is
 * written at the constant `fps` declared in the options.
 */
import { Observable, Subject, takeUntil, type OperatorFunction, type Subscription } from 'rxjs';
import { endianness } from 'node:os';
import { CausewayError, invalidArgument, MediaError } from '../../core/errors.js';
import { flowOf, type FlowControl } from '../../core/flow.js';
import type { AudioFrame, PixelFormat, VideoFrame } from '../../core/frames.js';
import { classifyFailure, describeExit, describeSource, ffmpegMissing, isSpawnEnoent } from './errors.js';
import { QUIET_ARGS, resolveFfmpegPath, spawnFfmpeg } from './process.js';
import { videoFrameBytes } from './video-input.js';

export interface FfmpegOutputCommon {
  /** Encoder and muxer arguments placed after the input, e.g. `['-c:a', 'libopus', '-b:a', '32k']`. */
  readonly outputOptions?: readonly string[];
  /** Container format (`-f`); by default ffmpeg picks it from the target's extension. */
  readonly format?: string;
  /** Bound on frames waiting for stdin to drain, in bytes (default 64 MiB). */
  readonly maxQueuedBytes?: number;
  /** ffmpeg binary; default $FFMPEG_PATH or `ffmpeg` on PATH. */
  readonly ffmpegPath?: string;
}

export interface FfmpegAudioOutputOptions extends FfmpegOutputCommon {
  readonly sampleRate: number;
  readonly channels: number;
}

export interface FfmpegVideoOutputOptions extends FfmpegOutputCommon {
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  readonly fps: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';
const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/** Writes AudioFrames (interleaved float32) to anything ffmpeg writes (existing files are overwritten). */
export function ffmpegAudioOutput(target: string, options: FfmpegAudioOutputOptions): OperatorFunction<AudioFrame, never> {
  const { sampleRate, channels } = options;
  const name = `ffmpegAudioOutput(${describeSource(target)})`;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw invalidArgument(`${name}: sampleRate must be a positive integer, got ${sampleRate}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) {
    throw invalidArgument(`${name}: channels must be an integer in 1..64, got ${channels}`);
  }
  return ffmpegOutput<AudioFrame>(target, options, {
    inputArgs: ['-f', 'f32le', '-ar', String(sampleRate), '-ac', String(channels)],
    check: (f) => {
      if (f === null || typeof f !== 'object' || f.kind !== 'audio') return `expected an audio frame, got ${describeKind(f)}`;
      if (f.sampleRate !== sampleRate) return `sampleRate ${f.sampleRate} Hz, expected ${sampleRate} Hz`;
      if (f.channels !== channels) return `${f.channels} channel(s), expected ${channels}`;
      if (!(f.data instanceof Float32Array)) return 'data is not a Float32Array';
      if (f.data.length % channels !== 0) return `${f.data.length} samples is not a multiple of ${channels} channels`;
      return undefined;
    },
    toBytes: (f) => float32ToLeBytes(f.data),
  });
}

/** Writes raw VideoFrames to anything ffmpeg writes, at a constant `fps` (existing files are overwritten). */
export function ffmpegVideoOutput(target: string, options: FfmpegVideoOutputOptions): OperatorFunction<VideoFrame, never> {
  const { width, height, pixelFormat, fps } = options;
  const name = `ffmpegVideoOutput(${describeSource(target)})`;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw invalidArgument(`${name}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!(Number.isFinite(fps) && fps > 0)) throw invalidArgument(`${name}: fps must be a positive number, got ${fps}`);
  if (!['rgb24', 'rgba', 'gray', 'yuv420p'].includes(pixelFormat)) {
    throw invalidArgument(`${name}: unsupported pixelFormat ${String(pixelFormat)}`);
  }
  const bytes = videoFrameBytes(width, height, pixelFormat);
  return ffmpegOutput<VideoFrame>(target, options, {
    inputArgs: ['-f', 'rawvideo', '-pix_fmt', pixelFormat, '-video_size', `${width}x${height}`, '-framerate', String(fps)],
    check: (f) => {
      if (f === null || typeof f !== 'object' || f.kind !== 'video') return `expected a video frame, got ${describeKind(f)}`;
      if (f.width !== width || f.height !== height) return `size ${f.width}x${f.height}, expected ${width}x${height}`;
      if (f.format !== pixelFormat) return `pixel format ${f.format}, expected ${pixelFormat}`;
      if (!(f.data instanceof Uint8Array) || f.data.length !== bytes) {
        return `${f.data?.length ?? 'no'} bytes, expected ${bytes} for ${width}x${height} ${pixelFormat}`;
      }
      return undefined;
    },
    // Copied: ffmpeg may read it later (queued in the pipe) and frames can be shared downstream.
    toBytes: (f) => Buffer.from(f.data),
  });
}

/** Resolves when an output Observable completes (ffmpeg finished writing), rejects on its error. */
export function writeDone(output$: Observable<never>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    output$.subscribe({ error: reject, complete: resolve });
  });
}

interface OutputSpec<F> {
  readonly inputArgs: readonly string[];
  readonly check: (frame: F) => string | undefined;
  readonly toBytes: (frame: F) => Uint8Array;
}

function ffmpegOutput<F>(target: string, options: FfmpegOutputCommon, spec: OutputSpec<F>): OperatorFunction<F, never> {
  const maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
  const binary = resolveFfmpegPath(options.ffmpegPath);
  const args = [
    ...QUIET_ARGS,
    // Raw input with every parameter given: nothing to probe. Without these ffmpeg reads up to
    // 5 s (analyzeduration) of input before it even opens the output, which delays live outputs.
    '-probesize', '32',
    '-analyzeduration', '0',
    ...spec.inputArgs,
    '-i', 'pipe:0',
    ...(options.outputOptions ?? []),
    ...(options.format !== undefined ? ['-f', options.format] : []),
    '-y',
    target,
  ];
  const where = describeSource(target);

  return (frames$) =>
    new Observable<never>((subscriber) => {
      const proc = spawnFfmpeg(binary, args, { stdin: 'pipe', stdout: 'ignore' });
      const stdin = proc.stdin!;
      const stop$ = new Subject<void>();
      let sub: Subscription | undefined;
      // FIFO as array + head index (Array.shift is O(n) on large arrays).
      let queue: Uint8Array[] = [];
      let head = 0;
      let queuedBytes = 0;
      let waitingDrain = false;
      let inputDone = false;
      let finished = false;
      let frames = 0;
      /** The source this output paused while its queue is not written out (one pause, held by this output). */
      let paused: FlowControl | undefined;
      const holder = {};
      const resumeSource = (): void => {
        paused?.resume(holder);
        paused = undefined;
      };

      const release = (): void => {
        resumeSource();
        stdin.removeListener('drain', onDrain);
        queue = [];
        head = 0;
        queuedBytes = 0;
        stop$.next();
        sub?.unsubscribe();
      };
      const fail = (err: unknown): void => {
        if (finished) return;
        finished = true;
        release();
        proc.kill();
        subscriber.error(err);
      };
      const writeNow = (b: Uint8Array): void => {
        if (!stdin.write(b)) {
          waitingDrain = true;
          stdin.once('drain', onDrain);
        }
      };
      const pump = (): void => {
        while (head < queue.length && !waitingDrain && !finished) {
          const b = queue[head]!;
          queue[head++] = EMPTY;
          queuedBytes -= b.length;
          writeNow(b);
        }
        if (head === queue.length) {
          queue = [];
          head = 0;
          if (!waitingDrain) resumeSource();
        } else if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head);
          head = 0;
        }
        if (!waitingDrain && inputDone && head === queue.length && !finished && !stdin.writableEnded) stdin.end();
      };
      function pauseSourceOf(frame: F): void {
        const flow = flowOf(frame);
        if (flow === undefined || paused !== undefined) return;
        paused = flow;
        flow.pause(holder);
      }
      function onDrain(): void {
        waitingDrain = false;
        pump();
      }

      sub = frames$.pipe(takeUntil(stop$)).subscribe({
        next: (frame) => {
          if (finished) return;
          const problem = spec.check(frame);
          if (problem !== undefined) {
            fail(new CausewayError('invalid-frame', `frame ${frames} written to ${where} does not match the output: ${problem}`));
            return;
          }
          frames++;
          const bytes = spec.toBytes(frame);
          if (bytes.length === 0) return;
          if (!waitingDrain && head === queue.length) {
            writeNow(bytes);
            if (waitingDrain) pauseSourceOf(frame);
            return;
          }
          pauseSourceOf(frame);
          if (queuedBytes + bytes.length > maxQueuedBytes) {
            fail(
              new CausewayError(
                'queue-overflow',
                `output ${where}: ffmpeg is slower than its input and ${queuedBytes} bytes are waiting (maxQueuedBytes ${maxQueuedBytes})`,
              ),
            );
            return;
          }
          queue.push(bytes);
          queuedBytes += bytes.length;
        },
        error: (err: unknown) => fail(err),
        complete: () => {
          if (finished) return;
          inputDone = true;
          pump();
        },
      });
      if (finished) sub.unsubscribe();

      proc.exited.then((exit) => {
        if (finished) return;
        if (exit.spawnError !== undefined) {
          fail(
            isSpawnEnoent(exit.spawnError)
              ? ffmpegMissing(binary, { source: target, role: 'output' }, exit.spawnError)
              : new MediaError('output-failed', `could not start ffmpeg for output ${where}: ${exit.spawnError.message}`),
          );
        } else if (exit.code !== 0) {
          fail(classifyFailure({ source: target, role: 'output', kind: 'audio' }, exit.stderr, describeExit(exit.code, exit.signal)));
        } else {
          // Exit 0: done. Before the input ended, that is ffmpeg's own decision (e.g. `-t` or
          // `-frames` in outputOptions): complete and stop reading the source.
          finished = true;
          release();
          subscriber.complete();
        }
      });

      return () => {
        if (!finished) {
          finished = true;
          release();
        }
        proc.kill();
      };
    });
}

function float32ToLeBytes(data: Float32Array): Uint8Array {
  // Copied: ffmpeg may read it later (queued in the pipe) and frames can be shared downstream.
  if (LITTLE_ENDIAN) return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const out = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i] ?? 0, i * 4);
  return out;
}

function describeKind(f: unknown): string {
  if (f === null || typeof f !== 'object') return String(f);
  const k = (f as { kind?: unknown }).kind;
  return typeof k === 'string' ? `a ${k} frame` : 'an object without kind';
}
