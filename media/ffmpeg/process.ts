/**
 * One ffmpeg child process, owned by one subscription.
 *
 * Why node:child_process and not fluent-ffmpeg for running ffmpeg: we need raw stdin/stdout pipes
 * with exact backpressure (`write()` -> 'drain', `stdout.pause()`), a kill that we control
 * (SIGTERM, then SIGKILL after a grace period) and the exact argument order. fluent-ffmpeg runs
 * extra `ffmpeg -formats/-codecs` capability probes before spawning, reorders/rewrites options and
 * wraps the pipes in its own stream handling, which makes all three harder to guarantee.
 * fluent-ffmpeg is used for ffprobe only (probe.ts), and every use of it stays in this folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StderrTail } from './errors.js';

export interface FfmpegExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the binary could not be started at all (e.g. ENOENT). */
  readonly spawnError?: Error;
  /** The last stderr lines (bounded). */
  readonly stderr: string[];
  /** We asked it to stop (unsubscribe / teardown). */
  readonly killedByUs: boolean;
}

export interface FfmpegProcess {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /** Resolves (never rejects) once the process has exited and its pipes are closed, or failed to start. */
  readonly exited: Promise<FfmpegExit>;
  /** Idempotent: closes our ends of the pipes, sends SIGTERM, and SIGKILL if still alive after the grace period. */
  kill(): void;
}

export interface SpawnOptions {
  readonly stdin: 'pipe' | 'ignore';
  readonly stdout: 'pipe' | 'ignore';
  /** ms between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
}

/** `options.ffmpegPath`, else $FFMPEG_PATH, else `ffmpeg` from PATH. */
export function resolveFfmpegPath(explicit?: string): string {
  return explicit ?? process.env['FFMPEG_PATH'] ?? 'ffmpeg';
}

/** `options.ffprobePath`, else $FFPROBE_PATH, else `ffprobe` from PATH. */
export function resolveFfprobePath(explicit?: string): string {
  return explicit ?? process.env['FFPROBE_PATH'] ?? 'ffprobe';
}

/** Arguments every ffmpeg run starts with, so that stderr holds errors only. */
export const QUIET_ARGS: readonly string[] = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];

export function spawnFfmpeg(binary: string, args: readonly string[], options: SpawnOptions): FfmpegProcess {
  const graceMs = options.killGraceMs ?? 500;
  const tail = new StderrTail(50);
  let killedByUs = false;
  let done = false;
  let killTimer: NodeJS.Timeout | undefined;
  let resolveExit!: (e: FfmpegExit) => void;
  const exited = new Promise<FfmpegExit>((resolve) => {
    resolveExit = resolve;
  });

  const child: ChildProcess = spawn(binary, [...args], {
    stdio: [options.stdin, options.stdout, 'pipe'],
    windowsHide: true,
  });

  const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
    if (done) return;
    done = true;
    if (killTimer !== undefined) clearTimeout(killTimer);
    killTimer = undefined;
    child.removeListener('error', onError);
    child.removeListener('close', onClose);
    child.stderr?.removeListener('data', onStderr);
    resolveExit({
      code,
      signal,
      ...(spawnError !== undefined ? { spawnError } : {}),
      stderr: tail.snapshot(),
      killedByUs,
    });
  };
  const onStderr = (chunk: Buffer): void => tail.push(chunk);
  const onClose = (code: number | null, signal: NodeJS.Signals | null): void => finish(code, signal);
  const onError = (err: Error): void => {
    // 'error' without a pid: the binary could not be started. With a pid: a failed kill(); ignore,
    // 'close' still comes.
    if (child.pid === undefined) finish(null, null, err);
  };
  // A broken stdin pipe (ffmpeg exited early) surfaces through the exit status, not as a throw.
  const swallow = (): void => {};

  child.on('error', onError);
  child.on('close', onClose);
  child.stderr?.on('data', onStderr);
  child.stdin?.on('error', swallow);
  child.stdout?.on('error', swallow);

  const kill = (): void => {
    if (done || killedByUs) return;
    killedByUs = true;
    // Closing our ends first unblocks an ffmpeg stuck writing to a full stdout pipe (EPIPE) and
    // lets an encoder see EOF; SIGTERM then makes it stop now.
    child.stdout?.destroy();
    child.stdin?.destroy();
    if (child.pid === undefined) return;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      killTimer = undefined;
      if (!done) child.kill('SIGKILL');
    }, graceMs);
  };

  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    exited,
    kill,
  };
}
