/**
 * How the `causeway` process ends when something goes wrong outside a command's own error path,
 * so that no path prints a stack trace unless --debug asked for one:
 *
 * - stdout's reader went away (`causeway transcribe f | head -1`): EPIPE is the reader's choice
 *   to stop reading, not a failure. The running work is stopped (its ffmpeg children killed),
 *   nothing more is written, and the exit code is 0, like a filter whose consumer is satisfied.
 * - an uncaught exception: one line on stderr, exit 1 (the process state is unknown: go).
 * - an unhandled rejection: the same, except while serving, where one stream's forgotten promise
 *   must not end everyone's sessions: it is logged as one line and the server goes on.
 */
import { isCausewayError } from '../core/errors.js';
import { logger } from '../core/log.js';

const log = logger('cli');

/** The one line a failure is reported as (no `causeway: error: ` prefix). */
export function errorLine(e: unknown): string {
  const msg = isCausewayError(e) ? `${e.message} [${e.code}]` : `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  return msg.split('\n')[0]!;
}

export function reportError(e: unknown, debug: boolean): void {
  process.stderr.write(`causeway: error: ${errorLine(e)}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
}

export class CliProcess {
  /** stdout's reader has gone; nothing more is written there. */
  stdoutClosed = false;
  /** Set by `serve`: unhandled rejections are logged instead of ending the process. */
  serving = false;
  private readonly onClosed = new Set<() => void>();

  constructor(private readonly debug: boolean) {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') this.closeStdout();
      else this.fatal(e);
    });
    // With stderr gone too there is nowhere left to say anything.
    process.stderr.on('error', () => {});
    process.on('uncaughtException', (e) => this.fatal(e));
    process.on('unhandledRejection', (e) => {
      if (!this.serving) this.fatal(e);
      else log.error(`unhandled rejection, the server goes on: ${errorLine(e)}`);
    });
  }

  /** Writes program output, unless its reader has gone. */
  out(text: string): void {
    if (!this.stdoutClosed) process.stdout.write(text);
  }

  /** `f` runs once when stdout's reader goes away; returns the unregistration. */
  whenStdoutCloses(f: () => void): () => void {
    this.onClosed.add(f);
    return () => this.onClosed.delete(f);
  }

  private closeStdout(): void {
    if (this.stdoutClosed) return;
    this.stdoutClosed = true;
    for (const f of this.onClosed) f();
    this.onClosed.clear();
  }

  fatal(e: unknown): never {
    reportError(e, this.debug);
    process.exit(1);
  }
}
