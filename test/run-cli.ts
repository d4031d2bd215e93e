/** Runs the built `causeway` command as a user would (node dist/src/cli.js ...) and returns its exit code and output. */
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const exec = promisify(execFile);

export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [cli, ...args], { timeout: 60_000, ...(options.env ? { env: options.env } : {}) });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

export interface CliRun {
  readonly child: ChildProcess;
  /** Resolves once the process has exited, with its code (or signal) and its stderr. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; seconds: number }>;
}

/**
 * Starts the command and leaves it running: for tests that act on it while it works (close its
 * stdout, kill its ffmpeg child). The caller kills `child` in `finally` if it is still running.
 */
export function spawnCli(args: string[], options: { stdio?: StdioOptions; nodeArgs?: string[] } = {}): CliRun {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), cli, ...args], { stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; seconds: number }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
  return { child, exited };
}

/** Waits for `run` to exit, failing (and killing it) after `ms`. */
export async function exitWithin(run: CliRun, ms: number): Promise<Awaited<CliRun['exited']>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`causeway did not exit within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Kills a still-running command (for `finally`). */
export function killCli(run: CliRun): void {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
}
