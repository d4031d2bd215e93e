/**
 * What kind of input a source string is, and the cheap checks we can do before starting ffmpeg.
 *
 * - a URL with a scheme (`rtsp://`, `http://`, `srt://`, ...) or anything with an explicit `-f`
 *   format that is not a regular file (`-f lavfi sine=...`, `-f alsa default`, `/dev/video0`) is
 *   handed to ffmpeg untouched: ffmpeg's own errors decide;
 * - a local path is `stat`ed first: missing -> 'input-not-found', 0 bytes -> 'input-empty';
 *   an existing regular file is a *local file*, which enables the truncation check.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { inputEmpty, inputNotFound } from './errors.js';

export interface SourceInfo {
  /** As the caller wrote it. */
  readonly source: string;
  /** An existing, non-empty regular file. */
  readonly localFile: boolean;
  /** Path on disk when `localFile`. */
  readonly path?: string;
  /** Size in bytes when `localFile`. */
  readonly size?: number;
  /** What to pass to ffmpeg after `-i`. */
  readonly ffmpegArg: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]+):/i;

/** Value of an option in an ffmpeg argument list (`-f lavfi` -> 'lavfi'), last one wins. */
export function optionValue(args: readonly string[] | undefined, name: string): string | undefined {
  if (args === undefined) return undefined;
  let v: string | undefined;
  for (let i = 0; i < args.length - 1; i++) if (args[i] === name) v = args[i + 1];
  return v;
}

/** Input options that change how much of the input is decoded (duration checks are then meaningless). */
export function limitsDuration(args: readonly string[] | undefined): boolean {
  const limiting = new Set(['-t', '-to', '-ss', '-sseof', '-stream_loop', '-frames', '-read_intervals']);
  return (args ?? []).some((a) => limiting.has(a));
}

export async function inspectSource(source: string, inputOptions: readonly string[] | undefined): Promise<SourceInfo> {
  if (typeof source !== 'string' || source.length === 0) {
    throw inputNotFound(String(source), 'empty source name');
  }
  const scheme = SCHEME.exec(source)?.[1]?.toLowerCase();
  let path: string | undefined;
  if (scheme === undefined) path = source;
  else if (scheme === 'file') path = source.startsWith('file://') ? fileURLToPath(source) : source.slice('file:'.length);
  else return { source, localFile: false, ffmpegArg: source };

  const explicitFormat = optionValue(inputOptions, '-f') !== undefined;
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    // With an explicit -f the name may be a device or a filter graph, not a path: let ffmpeg decide.
    if (explicitFormat) return { source, localFile: false, ffmpegArg: source };
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw inputNotFound(source, 'no such file or directory');
    // EACCES and friends: ffmpeg will report the exact problem.
    return { source, localFile: false, ffmpegArg: source };
  }
  if (st.isDirectory()) throw inputNotFound(source, 'it is a directory, not a file');
  if (!st.isFile()) return { source, localFile: false, ffmpegArg: source }; // fifo, device, socket
  if (st.size === 0) throw inputEmpty(source);
  // `file:` keeps names with a colon ("take:1.wav") from being read as a protocol.
  return { source, localFile: true, path, size: st.size, ffmpegArg: `file:${path}` };
}
