/**
 * Real-browser harness for tests: Debian's chromium driven by playwright-core (never
 * `playwright install`), headless, with fake media devices and a fresh profile per launch.
 *
 * Fake microphone: `--use-file-for-fake-audio-capture=<wav>` plays the WAV as the microphone and
 * LOOPS it. Checked with Chromium 156: 8-bit unsigned, 16-bit and 32-bit float PCM WAVs at any
 * rate (8, 16, 22.05, 44.1, 48 kHz) and any channel count are converted to the capture format
 * (44.1 kHz stereo; more than two channels are mixed down and can clip), but 24-bit PCM plays as
 * silence, so launchBrowser() refuses it. Without a WAV, chromium's own fake microphone beeps.
 * Fake camera: `--use-fake-device-for-media-stream` provides one (640x480 test pattern, 20 fps);
 * `=device-count=0` removes it (fakeVideo: false).
 *
 * close() never leaves a process behind: it closes through playwright with a deadline, then
 * SIGKILLs whatever is still alive among the processes of this launch (found by the profile path
 * in their command line, a marker in their environment, and the browser's process group; the
 * crashpad handlers chromium daemonises are only found by the environment marker), waits until
 * they are gone and removes the profile. A process 'exit' hook does the same if a test run dies.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags of DESIGN.md ("Browser tests"), plus the three this project's browser tests need. */
export function chromiumArgs(fakeAudioWav?: string, camera = true): string[] {
  return [
    '--no-sandbox',
    // device-count=0 removes the fake camera only; the fake microphones stay.
    camera ? '--use-fake-device-for-media-stream' : '--use-fake-device-for-media-stream=device-count=0',
    '--use-fake-ui-for-media-stream',
    ...(fakeAudioWav !== undefined ? [`--use-file-for-fake-audio-capture=${fakeAudioWav}`] : []),
    '--allow-loopback-in-peer-connection',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-gpu',
    '--disable-quic',
    '--autoplay-policy=no-user-gesture-required',
  ];
}

export interface LaunchOptions {
  /** WAV played (looped) as the microphone. 16-bit PCM recommended; 24-bit is refused (silent). */
  fakeAudioWav?: string;
  /** The fake camera: unset or `true`: chromium's 640x480 test pattern; a path: that .y4m/.mjpeg
   *  file (`--use-file-for-fake-video-capture`); `false`: no camera at all (getUserMedia with video
   *  fails with NotFoundError). */
  fakeVideo?: boolean | string;
  /** How long close() lets playwright close the browser before killing it (default 5000 ms). */
  closeTimeoutMs?: number;
}

export interface BrowserHarness {
  readonly browser: Browser;
  readonly context: BrowserContext;
  /** The fresh profile directory of this launch (removed by close()). */
  readonly userDataDir: string;
  /** A new tab at `url`, its console errors and uncaught exceptions recorded from the start. */
  page(url: string): Promise<Page>;
  /** console.error messages, uncaught page exceptions and crashes of a page opened with page(). */
  errors(page: Page): string[];
  /** Pid of chromium's main (browser) process. */
  readonly browserPid: number | undefined;
  /** Pids of the processes of this launch that are alive now. */
  pids(): number[];
  /** Closes the browser; kills it if it does not close in time; removes the profile. Idempotent. */
  close(): Promise<void>;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function readProc(pid: string, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return undefined; // gone, or not ours to read
  }
}

/** Process group of a pid from /proc/<pid>/stat (the command name may hold spaces and parens). */
function processGroup(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(fields[2]);
  return Number.isInteger(pgrp) ? pgrp : undefined;
}

interface Marks {
  readonly userDataDir: string;
  readonly envMarker: string;
  browserPid?: number;
}

/** Live (non-zombie) processes that belong to this launch. */
function findProcesses(m: Marks): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const stat = readProc(name, 'stat');
    if (stat === undefined) continue;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') continue;
    const cmdline = readProc(name, 'cmdline') ?? '';
    if (!cmdline.includes('chrom')) continue; // only ever chromium's own processes
    const ours =
      cmdline.includes(`--user-data-dir=${m.userDataDir}`) ||
      (readProc(name, 'environ') ?? '').includes(m.envMarker) ||
      (m.browserPid !== undefined && processGroup(stat) === m.browserPid);
    if (ours) found.push(pid);
  }
  return found;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every process of the launch and waits (up to timeoutMs) until none is left. */
async function reap(m: Marks, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = findProcesses(m);
  while (left.length > 0 && Date.now() < deadline) {
    killAll(left);
    await delay(50);
    left = findProcesses(m);
  }
  return left;
}

/** Reads a WAV header and refuses what chromium's fake capture cannot play. */
export function checkFakeAudioWav(path: string): { format: number; channels: number; sampleRate: number; bitsPerSample: number } {
  if (!existsSync(path)) throw new Error(`fake audio WAV not found: ${path}`);
  const head = Buffer.alloc(4096);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const b = head.subarray(0, n);
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error(`fake audio file is not a RIFF/WAVE file: ${path}`);
  }
  for (let off = 12; off + 8 <= b.length; ) {
    const id = b.toString('latin1', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ' && off + 24 <= b.length) {
      const info = {
        format: b.readUInt16LE(off + 8),
        channels: b.readUInt16LE(off + 10),
        sampleRate: b.readUInt32LE(off + 12),
        bitsPerSample: b.readUInt16LE(off + 22),
      };
      if (info.bitsPerSample === 24) {
        throw new Error(`chromium's fake audio capture plays 24-bit WAV as silence; use 16-bit PCM: ${path}`);
      }
      return info;
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(`fake audio WAV has no fmt chunk in its first 4 KiB: ${path}`);
}

/** Writes 16-bit PCM WAV (interleaves the given channels; samples are clamped to [-1, 1]). */
export function writeWav(path: string, channels: readonly Float32Array[], sampleRate: number): void {
  const nch = channels.length;
  const frames = channels[0]?.length ?? 0;
  const data = Buffer.alloc(frames * nch * 2);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nch; c++) {
      const v = Math.max(-1, Math.min(1, channels[c]![i] ?? 0));
      data.writeInt16LE(Math.round(v * 32767), (i * nch + c) * 2);
    }
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(nch, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * nch * 2, 28);
  h.writeUInt16LE(nch * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
}

/** A mono sine WAV (default 440 Hz, amplitude 0.5, 1 s at 48 kHz): a recognisable fake microphone. */
export function writeToneWav(path: string, opts: { hz?: number; amplitude?: number; seconds?: number; sampleRate?: number } = {}): void {
  const { hz = 440, amplitude = 0.5, seconds = 1, sampleRate = 48000 } = opts;
  const x = new Float32Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < x.length; i++) x[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate);
  writeWav(path, [x], sampleRate);
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<BrowserHarness> {
  if (opts.fakeAudioWav !== undefined) checkFakeAudioWav(opts.fakeAudioWav);
  const args = chromiumArgs(opts.fakeAudioWav, opts.fakeVideo !== false);
  if (typeof opts.fakeVideo === 'string') {
    if (!existsSync(opts.fakeVideo)) throw new Error(`fake video file not found: ${opts.fakeVideo}`);
    args.push(`--use-file-for-fake-video-capture=${opts.fakeVideo}`);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'causeway-chromium-'));
  const markerValue = randomBytes(8).toString('hex');
  const marks: Marks = { userDataDir, envMarker: `CAUSEWAY_TEST_BROWSER=${markerValue}` };

  // If the test process exits without close(), kill the browser anyway (synchronously).
  const onExit = () => {
    killAll(findProcesses(marks));
    rmSync(userDataDir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args,
      env: { ...process.env, CAUSEWAY_TEST_BROWSER: markerValue },
      timeout: 30_000,
    });
  } catch (e) {
    await reap(marks, 5000);
    process.off('exit', onExit);
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const browserProcess = findProcesses(marks).find((pid) => {
    const cmd = readProc(String(pid), 'cmdline') ?? '';
    return !cmd.includes('--type=') && !cmd.includes('crashpad');
  });
  marks.browserPid = browserProcess;
  const browser = context.browser();
  if (browser === null) {
    await context.close().catch(() => undefined);
    await reap(marks, 5000);
    process.off('exit', onExit);
    rmSync(userDataDir, { recursive: true, force: true });
    throw new Error('playwright-core gave no Browser for the persistent context');
  }

  const errorsByPage = new WeakMap<Page, string[]>();
  let closing: Promise<void> | undefined;

  async function doClose(): Promise<void> {
    const closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      context.close().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, closeTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    const left = await reap(marks, 10_000);
    process.off('exit', onExit);
    rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
    if (left.length > 0) throw new Error(`chromium processes survived SIGKILL: ${left.join(', ')}`);
  }

  return {
    browser,
    context,
    userDataDir,
    browserPid: browserProcess,
    async page(url: string): Promise<Page> {
      const page = await context.newPage();
      const errors: string[] = [];
      errorsByPage.set(page, errors);
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
      });
      page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
      page.on('crash', () => errors.push('page crashed'));
      page.setDefaultTimeout(15_000);
      await page.goto(url, { waitUntil: 'load' });
      return page;
    },
    errors(page: Page): string[] {
      return errorsByPage.get(page) ?? [];
    },
    pids(): number[] {
      return findProcesses(marks);
    },
    close(): Promise<void> {
      closing ??= doClose();
      return closing;
    },
  };
}
