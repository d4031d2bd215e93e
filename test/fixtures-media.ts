/**
 * Media fixtures made at test time (ffmpeg lavfi, sox) in a fresh temp folder, plus helpers to
 * look at what came out. Nothing here is committed media.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Observable } from 'rxjs';
import { childProcesses } from './processes.js';

export { childProcesses };

export function makeTempDir(prefix = 'causeway-media-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

/** Runs ffmpeg synchronously (fixtures only); throws with its stderr on failure. */
export function ffmpegSync(args: readonly string[]): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], {
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function soxSync(args: readonly string[]): void {
  execFileSync('sox', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Reference decode straight from ffmpeg to interleaved float32 (no Causeway code involved). */
export function referenceDecode(
  source: string,
  sampleRate: number,
  channels: number,
  inputOptions: readonly string[] = [],
): Float32Array {
  const out = ffmpegSync([...inputOptions, '-i', source, '-map', '0:a:0', '-ac', String(channels), '-ar', String(sampleRate), '-f', 'f32le', 'pipe:1']);
  const copy = new Uint8Array(out.length);
  copy.set(out);
  return new Float32Array(copy.buffer);
}

/** First `bytes` bytes of `src` written to `dst`. */
export function truncateCopy(src: string, dst: string, bytes: number): void {
  writeFileSync(dst, readFileSync(src).subarray(0, bytes));
}

/** Deterministic bytes that no demuxer accepts (checked: ffmpeg 5.1 says "Invalid data found"). */
export function garbageBytes(n: number, seed = 12345): Buffer {
  const b = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    b[i] = a >>> 24;
  }
  return b;
}

export interface Collected<T> {
  readonly frames: T[];
  readonly error?: unknown;
  readonly ms: number;
}

/** Subscribes and waits for completion or error, keeping whatever was emitted before an error. */
export function collect<T>(obs: Observable<T>): Promise<Collected<T>> {
  const frames: T[] = [];
  const t0 = performance.now();
  return new Promise((resolve) => {
    obs.subscribe({
      next: (f) => frames.push(f),
      error: (error: unknown) => resolve({ frames, error, ms: performance.now() - t0 }),
      complete: () => resolve({ frames, ms: performance.now() - t0 }),
    });
  });
}

export function ffmpegChildren(): { pid: number; stat: string }[] {
  return childProcesses().filter((c) => c.comm === 'ffmpeg');
}

export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ESRCH';
  }
}

/** Polls `cond` until it holds or `timeoutMs` passes (a generous default: a busy machine starts and stops processes slowly); returns whether it held. */
export async function waitFor(cond: () => boolean, timeoutMs = 15_000, stepMs = 20): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
    // Leave the timers phase so that our own timer no longer counts as an active handle.
    await new Promise((r) => setImmediate(r));
  }
  return cond();
}

/** Counts of libuv handles/requests of the kinds a child process leaves behind. */
export function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (r === 'ProcessWrap' || r === 'PipeWrap' || r === 'Timeout' || r === 'FSReqCallback') counts[r] = (counts[r] ?? 0) + 1;
  }
  return counts;
}

/** One channel of an interleaved buffer. */
export function channelOf(x: Float32Array, channel: number, channels: number): Float32Array {
  const out = new Float32Array(Math.floor(x.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = x[i * channels + channel]!;
  return out;
}

export function concatFloat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Sign changes (upward and downward). A tone of f Hz has 2 f per second. */
export function zeroCrossings(x: Float32Array): number {
  let n = 0;
  for (let i = 1; i < x.length; i++) if ((x[i - 1]! < 0) !== (x[i]! < 0)) n++;
  return n;
}

/**
 * Least-squares fit of a sinusoid of `freq` Hz to x[from..to): amplitude and the ratio
 * signal energy / residual energy (SNR, linear).
 */
export function fitTone(x: Float32Array, freq: number, sampleRate: number, from = 0, to = x.length): { amplitude: number; snr: number } {
  const w = (2 * Math.PI * freq) / sampleRate;
  let ss = 0, cc = 0, sc = 0, xs = 0, xc = 0;
  for (let n = from; n < to; n++) {
    const s = Math.sin(w * n);
    const c = Math.cos(w * n);
    ss += s * s;
    cc += c * c;
    sc += s * c;
    xs += x[n]! * s;
    xc += x[n]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (xs * cc - xc * sc) / det;
  const b = (xc * ss - xs * sc) / det;
  let sig = 0, res = 0;
  for (let n = from; n < to; n++) {
    const y = a * Math.sin(w * n) + b * Math.cos(w * n);
    sig += x[n]! * x[n]!;
    res += (x[n]! - y) ** 2;
  }
  return { amplitude: Math.hypot(a, b), snr: sig / Math.max(res, 1e-30) };
}

export function sineFrames(opts: {
  sampleRate: number;
  channels: number;
  freqs: readonly number[];
  seconds: number;
  frameSamples: number;
  amplitude?: number;
}): { frames: Float32Array[]; signal: Float32Array } {
  const { sampleRate, channels, freqs, seconds, frameSamples } = opts;
  const amp = opts.amplitude ?? 0.5;
  const total = Math.round(sampleRate * seconds);
  const signal = new Float32Array(total * channels);
  for (let n = 0; n < total; n++) {
    for (let c = 0; c < channels; c++) {
      signal[n * channels + c] = amp * Math.sin((2 * Math.PI * freqs[c % freqs.length]! * n) / sampleRate);
    }
  }
  const frames: Float32Array[] = [];
  for (let n = 0; n < total; n += frameSamples) {
    frames.push(signal.slice(n * channels, Math.min(total, n + frameSamples) * channels));
  }
  return { frames, signal };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
