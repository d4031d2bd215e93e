/**
 * ffmpeg/ffprobe failures -> typed MediaErrors with one-line messages naming the input (or output).
 *
 * What ffmpeg 5.1 prints on stderr (with `-hide_banner -loglevel error`) and how it is mapped:
 *
 * | situation                         | ffmpeg stderr (exit 1 unless noted)                                  | code              |
 * |-----------------------------------|----------------------------------------------------------------------|-------------------|
 * | binary missing                    | none: spawn fails with ENOENT                                        | ffmpeg-missing    |
 * | missing file                      | `<src>: No such file or directory` (also checked with stat first)     | input-not-found   |
 * | HTTP 404                          | `<src>: Server returned 404 Not Found`                               | input-not-found   |
 * | 0-byte file                       | `<src>: Invalid data found when processing input` (stat decides)     | input-empty       |
 * | garbage bytes                     | `<src>: Invalid data found when processing input`, or, when the bytes | corrupt-input     |
 * |                                   | happen to look like MPEG audio, `<src>: Invalid argument`            |                   |
 * | no stream of the wanted kind      | `Stream map '0:a:0' matches no streams.` (we always pass -map 0:a:0) | no-audio-stream   |
 * |                                   | `Stream map '0:v:0' matches no streams.`                             | no-video-stream   |
 * | truncated file                    | exit 0; WAV cut mid-sample adds `Invalid PCM packet`, mp3 and Ogg say | corrupt-input     |
 * |                                   | nothing at `error` level -> detected separately, see truncation.ts   |                   |
 * | anything else                     | last meaningful lines, e.g. `[lavfi] No such filter: 'x'`            | ffmpeg-failed     |
 * | output side (encoder, path, ...)  | e.g. `Unknown encoder 'x'`, `<target>: No such file or directory`    | output-failed     |
 * |                                   | (unknown extension, missing directory, permission: said plainly)     |                   |
 */
import { MediaError, type ErrorCode } from '../../core/errors.js';

/** Bounded tail of a child's stderr: the last `maxLines` lines, each cut to `maxLineChars`. */
export class StderrTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly maxLines = 50,
    private readonly maxLineChars = 1000,
  ) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    const parts = text.split(/\r\n|\r|\n/);
    // The last element is an incomplete line (or '' after a trailing newline).
    const rest = parts.pop() ?? '';
    for (const line of parts) this.addLine(line);
    // Never let an unterminated line grow without bound.
    this.partial = rest.length > this.maxLineChars ? rest.slice(-this.maxLineChars) : rest;
  }

  /** Completed lines plus the unterminated remainder, oldest first. */
  snapshot(): string[] {
    return this.partial.length > 0 ? [...this.lines, this.partial] : [...this.lines];
  }

  private addLine(line: string): void {
    if (line.length === 0) return;
    this.lines.push(line.length > this.maxLineChars ? line.slice(0, this.maxLineChars) + '…' : line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}

/** Hides the password of `scheme://user:pass@host` URLs so it never lands in an error message. */
export function redactSource(source: string): string {
  return source.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** A source as shown in messages: redacted, one line. */
export function describeSource(source: string): string {
  return oneLine(redactSource(source));
}

export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/\s+/g, ' ').trim();
}

const GENERIC_LINES: RegExp[] = [
  /^To ignore this, add a trailing '\?' to the map\.?$/i,
  /^Conversion failed!?$/i,
  /^Exiting normally/i,
  /^Error opening (input|output) files?:?/i,
  /^Error while (opening|filtering)/i,
  // Warnings, for the inputs read at -loglevel warning (network.ts).
  /^Guessed Channel Layout/i,
];

/**
 * Drops generic trailer lines and `@ 0x…` pointers; shows `arg` (what ffmpeg was given, e.g.
 * `file:/x.wav` or a URL with a password) as `display`.
 */
export function meaningfulLines(lines: readonly string[], arg?: string, display?: string): string[] {
  const out: string[] = [];
  for (const raw of lines) {
    let line = raw.trim();
    if (line.length === 0 || GENERIC_LINES.some((re) => re.test(line))) continue;
    line = line.replace(/\[([^\]@]+?) @ 0x[0-9a-f]+\]/gi, '[$1]');
    if (arg !== undefined && arg.length > 0) line = line.split(arg).join(display ?? redactSource(arg));
    out.push(oneLine(line));
  }
  return out;
}

/** The last one or two meaningful stderr lines joined on one line ('' when there are none). */
export function lastMeaningful(lines: readonly string[], arg?: string, display?: string, count = 2): string {
  const tail = meaningfulLines(lines, arg, display).slice(-count);
  return [...new Set(tail)].join('; ');
}

export type StreamKind = 'audio' | 'video';

export interface FailureContext {
  /** The input or output as the caller named it. */
  readonly source: string;
  /** The argument actually given to ffmpeg (e.g. `file:/abs/path`), used to spot `<arg>: error` lines. */
  readonly ffmpegArg?: string;
  readonly role: 'input' | 'output';
  readonly kind: StreamKind;
  /** The source is an existing, non-empty regular file. */
  readonly localFile?: boolean;
  readonly binary?: string;
}

export function ffmpegMissing(binary: string, ctx: { source: string; role: 'input' | 'output' }, cause?: unknown): MediaError {
  const tool = /ffprobe[^/\\]*$/i.test(binary) ? 'ffprobe' : 'ffmpeg';
  const env = tool === 'ffprobe' ? 'FFPROBE_PATH' : 'FFMPEG_PATH';
  return new MediaError(
    'ffmpeg-missing',
    `${tool} not found (could not run '${oneLine(binary)}') while opening ${ctx.role} ${describeSource(ctx.source)}: ` +
      `install ffmpeg with \`npm run setup\` (or your package manager), or set ${env}`,
    { cause },
  );
}

export function isSpawnEnoent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

/**
 * Classifies a failed ffmpeg/ffprobe run (non-zero exit or killed) from its stderr tail.
 * `exit` is only used in the fallback message.
 */
export function classifyFailure(ctx: FailureContext, stderr: readonly string[], exit: string): MediaError {
  const src = describeSource(ctx.source);
  const arg = ctx.ffmpegArg ?? ctx.source;
  const all = stderr.map((l) => l.trim());
  const text = all.join('\n');
  const detail = lastMeaningful(stderr, arg, src);

  if (ctx.role === 'output') {
    const why = outputProblem(text, ctx.source);
    if (why !== undefined) return new MediaError('output-failed', `cannot write ${src}: ${why}`);
    return new MediaError('output-failed', `ffmpeg failed writing ${src} (${exit})${detail ? `: ${detail}` : ''}`);
  }

  const mapMiss = /Stream map '[^']*:([av])(?::\d+)?' matches no streams/i.exec(text);
  if (mapMiss !== null || /does not contain any stream/i.test(text)) {
    const kind: StreamKind = mapMiss?.[1] === 'v' ? 'video' : mapMiss?.[1] === 'a' ? 'audio' : ctx.kind;
    return noStream(ctx.source, kind);
  }

  // `<arg>: <strerror>` is how ffmpeg reports that it could not open the input.
  const openLine = all.find((l) => l.startsWith(`${arg}: `) || l.startsWith(`${ctx.source}: `));
  const openErr = openLine === undefined ? undefined : openLine.slice(openLine.indexOf(': ') + 2);
  if (openErr !== undefined) {
    if (/No such file or directory|404 Not Found/i.test(openErr)) {
      return new MediaError('input-not-found', `input not found: ${src} (${oneLine(openErr)})`);
    }
    if (/Invalid data found when processing input/i.test(openErr)) {
      return corruptInput(ctx.source, `not a media file ffmpeg can read (${oneLine(openErr)})`);
    }
    if (ctx.localFile === true && /Invalid argument/i.test(openErr)) {
      // Garbage that happens to start like MPEG audio: the mp3 demuxer gives up with EINVAL.
      return corruptInput(ctx.source, `not a media file ffmpeg can read (${detail || oneLine(openErr)})`);
    }
  }
  return new MediaError('ffmpeg-failed', `ffmpeg failed on input ${src} (${exit})${detail ? `: ${detail}` : ''}`);
}

/** What is wrong with an output target, in the user's terms, when ffmpeg's stderr says it. */
function outputProblem(text: string, target: string): string | undefined {
  if (/Unable to find a suitable output format/i.test(text)) {
    const ext = /\.([^./\\]+)$/.exec(target)?.[1];
    return `${ext === undefined ? 'the name has no extension' : `ffmpeg knows no output format for the extension '.${ext}'`} (the format follows the extension: .wav, .flac, .ogg, .mp3, .m4a, ...)`;
  }
  // ffmpeg's own words stay in brackets, for searching.
  const plain: [RegExp, string][] = [
    [/No such file or directory/i, 'its directory does not exist'],
    [/Permission denied/i, 'permission denied'],
    [/Is a directory/i, 'it is a directory'],
    [/Read-only file system/i, 'the file system is read-only'],
    [/No space left on device/i, 'no space left on the device'],
  ];
  for (const [re, why] of plain) {
    const m = re.exec(text);
    if (m !== null) return `${why} (${m[0]})`;
  }
  return undefined;
}

export function noStream(source: string, kind: StreamKind): MediaError {
  const code: ErrorCode = kind === 'audio' ? 'no-audio-stream' : 'no-video-stream';
  return new MediaError(code, `input ${describeSource(source)} has no ${kind} stream`);
}

export function corruptInput(source: string, what: string): MediaError {
  return new MediaError('corrupt-input', `corrupt input ${describeSource(source)}: ${oneLine(what)}`);
}

export function inputNotFound(source: string, why: string): MediaError {
  return new MediaError('input-not-found', `input not found: ${describeSource(source)} (${oneLine(why)})`);
}

export function inputEmpty(source: string): MediaError {
  return new MediaError('input-empty', `input ${describeSource(source)} is empty (0 bytes)`);
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`;
}
