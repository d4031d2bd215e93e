/**
 * Deadlines for network inputs, so that a server that accepts a connection and then sends
 * nothing (or stops sending) ends the input with 'input-timeout' instead of hanging forever.
 *
 * Three layers, because no single one covers every protocol:
 * 1. ffmpeg's and ffprobe's own socket timeouts: `-timeout` (µs) for rtsp/rtsps, whose demuxer
 *    ignores the generic option, and `-rw_timeout` (µs) for every other protocol (http, tcp,
 *    rtmp, srt, udp, ...). Measured with ffmpeg 5.1 against a server that accepts and never
 *    answers: rtsp + `-rw_timeout` waits forever, rtsp + `-timeout` gives up after the timeout
 *    (saying "Invalid data found"); http and tcp give up with either ("Connection timed out").
 * 2. a probe deadline (probe.ts), for a protocol that has no timeout of its own;
 * 3. a no-data watchdog on ffmpeg's output (reader.ts), for a connection that stays open but
 *    never yields decodable media.
 * Local files, pipes, lavfi graphs and devices get none of these: they have no server to wait for.
 */
import { MediaError } from '../../core/errors.js';
import { corruptInput, describeSource, oneLine } from './errors.js';
import type { SourceInfo } from './source.js';

/** How long a network input may stay silent by default (ms). */
export const DEFAULT_NETWORK_TIMEOUT_MS = 10_000;

/**
 * What ffmpeg may take beyond the socket timeout before its first decoded byte: opening reads up
 * to 5 s of media (its default analyzeduration) to find the streams, at the stream's own pace.
 */
export const ANALYZE_SLACK_MS = 10_000;

const NETWORK_SCHEMES = new Set([
  'http', 'https', 'tcp', 'tls', 'udp', 'rtp', 'srt', 'rist', 'rtmp', 'rtmps', 'rtmpt', 'rtmpe', 'rtmpte', 'rtmpts',
  'mms', 'mmsh', 'mmst', 'ftp', 'sftp', 'gopher', 'gophers', 'icecast', 'hls', 'zmq', 'rtsp', 'rtsps',
]);

export interface NetworkDeadlines {
  readonly timeoutMs: number;
  /**
   * Socket-timeout arguments for ffmpeg and ffprobe, placed before `-i`; for ffmpeg also
   * `-loglevel warning` (the last -loglevel wins): a read that times out mid-stream is only a
   * warning to ffmpeg, which then exits 0 as if the stream had ended (see `cutShort`).
   */
  readonly args: readonly string[];
  /** No-data watchdog for ffmpeg's output: before the first byte, and between bytes. */
  readonly firstDataMs: number;
  readonly gapMs: number;
  /** A whole ffprobe run. */
  readonly probeMs: number;
}

function scheme(source: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
}

/**
 * The deadlines for `src`, or undefined when it is not a network input, when `timeoutMs` is 0
 * (no deadline), or when ffmpeg is told to listen (waiting for a publisher has no deadline).
 * A timeout option the caller put in `inputOptions` is kept, and none is added.
 */
export function networkDeadlines(src: SourceInfo, inputOptions: readonly string[] = [], timeoutMs = DEFAULT_NETWORK_TIMEOUT_MS): NetworkDeadlines | undefined {
  const s = scheme(src.source);
  if (src.localFile || s === undefined || !NETWORK_SCHEMES.has(s)) return undefined;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return undefined;
  if (inputOptions.includes('-listen') || /[?&]listen(=1)?(&|$)/.test(src.source)) return undefined;
  const own = inputOptions.some((a) => a === '-timeout' || a === '-rw_timeout' || a === '-stimeout');
  const us = String(Math.round(timeoutMs * 1000));
  return {
    timeoutMs,
    args: own ? [] : s === 'rtsp' || s === 'rtsps' ? ['-timeout', us] : ['-rw_timeout', us],
    // Twice the socket timeout: a dead socket is ffmpeg's to report (it says which call failed);
    // the watchdog is for what ffmpeg cannot see.
    firstDataMs: 2 * timeoutMs + ANALYZE_SLACK_MS,
    gapMs: 2 * timeoutMs,
    probeMs: timeoutMs + ANALYZE_SLACK_MS,
  };
}

export function inputTimeout(source: string, ms: number, what = 'sent no media'): MediaError {
  const s = Math.round(ms / 100) / 10;
  return new MediaError('input-timeout', `input ${describeSource(source)} ${what} for ${s} s (the network timeout; raise it with --timeout or timeoutMs)`);
}

/**
 * A failed run of ffmpeg/ffprobe on a network input, as the user should hear it: a timeout when
 * ffmpeg says so, or when its verdict is vague (rtsp reports its own timeout as "Invalid data
 * found when processing input") and nothing had arrived for at least the timeout.
 */
export function timeoutVerdict(e: MediaError, source: string, net: NetworkDeadlines | undefined, silentMs: number): MediaError {
  if (net === undefined) return e;
  const vague = e.code === 'corrupt-input' || e.code === 'ffmpeg-failed';
  return /timed out/i.test(e.message) || (vague && silentMs >= net.timeoutMs) ? inputTimeout(source, net.timeoutMs) : e;
}

/**
 * ffmpeg exited 0 on a network input, but its warnings say the stream was cut: a read timed out
 * (the server went silent) or the connection ended before the declared length.
 */
export function cutShort(source: string, stderr: readonly string[], net: NetworkDeadlines | undefined): MediaError | undefined {
  if (net === undefined) return undefined;
  if (stderr.some((l) => /timed out/i.test(l))) return inputTimeout(source, net.timeoutMs);
  const early = stderr.find((l) => /Stream ends prematurely/i.test(l));
  if (early !== undefined) return corruptInput(source, `the server ended the stream early (${oneLine(early.replace(/^\[[^\]]*\]\s*/, ''))})`);
  return undefined;
}
