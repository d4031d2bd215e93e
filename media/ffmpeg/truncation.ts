/**
 * Truncated files.
 *
 * ffmpeg 5.1 decodes a truncated file up to where it ends and then exits 0; at `-loglevel error`:
 * - WAV cut in the middle of a sample: `Invalid PCM packet, data has size 1 but at least a size
 *   of 2 was expected` + `Error while decoding stream #0:0: Invalid data found when processing
 *   input`; WAV cut on a sample boundary: nothing. (ffprobe reports the *present* length, 0.9996 s
 *   for a 2 s file cut in half, "Estimating duration from bitrate".)
 * - mp3 cut in half: nothing (at `warning` level: "filesize and duration do not match (growing
 *   file?)"); ffprobe reports the full length from the Xing/Info header.
 * - Ogg/Opus cut in half: nothing at any level; ffprobe reports the length up to the last complete
 *   page, so a duration comparison cannot see it.
 *
 * So stderr is no signal and the check is done per container, for local files only (network
 * streams and devices have no "expected" length), and never when input options limit the
 * decoded range (-ss/-t/-to/...):
 * - WAV: the `data` chunk size in the RIFF header vs the bytes actually in the file;
 * - Ogg: the file must end exactly at the end of a CRC-valid page that carries the
 *   end-of-stream flag (Ogg declares no total duration, so only "cut inside a page" /
 *   "no end-of-stream page" can be said);
 * - anything else: the duration ffprobe reports for the decoded stream (from headers or indexes:
 *   mp3 Xing/Info, MP4 moov, ...) vs the decoded duration, with a tolerance of
 *   max(0.25 s, 2 %) for encoder delay/padding. Containers that declare nothing are not checked.
 *   A VBR mp3 without a Xing header has only an estimated duration; if the estimate is high by
 *   more than the tolerance, the file would be reported as truncated (rare: encoders write Xing).
 */
import { open } from 'node:fs/promises';
import type { StreamKind } from './errors.js';
import type { DetailedInfo } from './probe.js';
import { limitsDuration, type SourceInfo } from './source.js';

export interface TruncationCheck {
  /** A one-line description of the truncation given what was decoded, or undefined if complete. */
  verdict(decodedSec: number): string | undefined;
}

const fmt = (s: number): string => `${s.toFixed(3)} s`;

export async function truncationCheck(
  src: SourceInfo,
  kind: StreamKind,
  inputOptions: readonly string[] | undefined,
  probe: () => Promise<DetailedInfo>,
): Promise<TruncationCheck | undefined> {
  if (!src.localFile || src.path === undefined || src.size === undefined || limitsDuration(inputOptions)) {
    return undefined;
  }
  const head = await readRange(src.path, 0, Math.min(src.size, 64 * 1024));
  if (isRiffWave(head)) return kind === 'audio' ? wavCheck(head, src.size) : undefined;
  if (head.length >= 4 && head.toString('latin1', 0, 4) === 'OggS') {
    const tailLen = Math.min(src.size, 2 * MAX_OGG_PAGE);
    const tail = await readRange(src.path, src.size - tailLen, tailLen);
    return oggCheck(tail, src.size);
  }
  let info: DetailedInfo;
  try {
    info = await probe();
  } catch {
    return undefined; // ffmpeg itself will say what is wrong
  }
  const declared = kind === 'audio' ? info.audio?.durationSec : info.video?.durationSec;
  if (declared === undefined || !(declared > 0)) return undefined;
  const tolerance = Math.max(0.25, 0.02 * declared);
  return {
    verdict: (decoded) =>
      decoded + tolerance < declared
        ? `file is truncated: decoded ${fmt(decoded)} of the ${fmt(declared)} its header declares`
        : undefined,
  };
}

async function readRange(path: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function isRiffWave(b: Buffer): boolean {
  return b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WAVE';
}

/** @internal Exported for tests. Parses RIFF chunks up to `data`. */
export function parseWavHeader(b: Buffer): { byteRate: number; dataOffset: number; dataBytes: number } | undefined {
  if (!isRiffWave(b)) return undefined;
  let off = 12;
  let byteRate: number | undefined;
  while (off + 8 <= b.length) {
    const id = b.toString('latin1', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ' && off + 16 <= b.length) byteRate = b.readUInt32LE(off + 8 + 8);
    if (id === 'data') {
      return byteRate !== undefined && byteRate > 0 ? { byteRate, dataOffset: off + 8, dataBytes: size } : undefined;
    }
    off += 8 + size + (size & 1);
  }
  return undefined;
}

function wavCheck(head: Buffer, fileSize: number): TruncationCheck | undefined {
  const h = parseWavHeader(head);
  // 0 and 0xFFFFFFFF are "unknown size" placeholders written by streaming writers.
  if (h === undefined || h.dataBytes === 0 || h.dataBytes === 0xffffffff) return undefined;
  const present = fileSize - h.dataOffset;
  if (present >= h.dataBytes) return undefined;
  const declaredSec = h.dataBytes / h.byteRate;
  const presentSec = Math.max(0, present) / h.byteRate;
  return {
    verdict: (decoded) =>
      `file is truncated: the WAV header declares ${fmt(declaredSec)} of audio (${h.dataBytes} bytes) ` +
      `but the file holds ${fmt(presentSec)} (${Math.max(0, present)} bytes); decoded ${fmt(decoded)}`,
  };
}

const MAX_OGG_PAGE = 27 + 255 + 255 * 255;

/** @internal Exported for tests. */
export function oggCheck(tail: Buffer, fileSize: number): TruncationCheck | undefined {
  const base = fileSize - tail.length;
  // Find the last complete, CRC-valid page in the tail.
  let pos = tail.lastIndexOf('OggS', tail.length - 4, 'latin1');
  let cutPageStart: number | undefined;
  while (pos >= 0) {
    const page = parseOggPage(tail, pos);
    if (page === 'incomplete') {
      cutPageStart ??= pos;
    } else if (page !== undefined) {
      const end = pos + page.length;
      if (end === tail.length && page.eos) return undefined; // ends cleanly
      const why =
        end === tail.length
          ? 'the last Ogg page has no end-of-stream flag'
          : `it ends inside an Ogg page (${tail.length - end} bytes after the last complete page${
              cutPageStart !== undefined ? `, at byte ${base + cutPageStart}` : ''
            })`;
      return {
        verdict: (decoded) =>
          `file is truncated: ${why}; decoded ${fmt(decoded)} (Ogg declares no total duration)`,
      };
    }
    pos = pos === 0 ? -1 : tail.lastIndexOf('OggS', pos - 1, 'latin1');
  }
  return undefined; // no page found in the tail: cannot tell
}

function parseOggPage(b: Buffer, pos: number): { length: number; eos: boolean } | 'incomplete' | undefined {
  if (pos + 27 > b.length) return 'incomplete';
  if (b[pos + 4] !== 0) return undefined; // version
  const nSegs = b[pos + 26] ?? 0;
  if (pos + 27 + nSegs > b.length) return 'incomplete';
  let body = 0;
  for (let i = 0; i < nSegs; i++) body += b[pos + 27 + i] ?? 0;
  const length = 27 + nSegs + body;
  if (pos + length > b.length) return 'incomplete';
  const stored = b.readUInt32LE(pos + 22);
  if (oggCrc(b, pos, length) !== stored) return undefined; // "OggS" inside payload, not a page
  return { length, eos: ((b[pos + 5] ?? 0) & 0x04) !== 0 };
}

let CRC_TABLE: Uint32Array | undefined;

/** Ogg CRC-32: polynomial 0x04c11db7, not reflected, init 0, computed with the CRC field as zero. */
function oggCrc(b: Buffer, pos: number, length: number): number {
  if (CRC_TABLE === undefined) {
    CRC_TABLE = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let r = i << 24;
      for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
      CRC_TABLE[i] = r >>> 0;
    }
  }
  const table = CRC_TABLE;
  let crc = 0;
  for (let i = 0; i < length; i++) {
    const byte = i >= 22 && i < 26 ? 0 : (b[pos + i] ?? 0);
    crc = ((crc << 8) ^ (table[((crc >>> 24) ^ byte) & 0xff] ?? 0)) >>> 0;
  }
  return crc;
}
