/**
 * IVF, the minimal container ffmpeg reads and writes VP8 in over a pipe: a 32-byte file header,
 * then per frame a 12-byte header (size, 64-bit pts) and the frame. Unlike raw VP8 it keeps
 * frame boundaries, and the pts field lets us match encoder output to its input frame.
 */

export const IVF_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 12;

/** File header for VP8 with time base 1/`timebaseDen` (frame pts count in that unit). */
export function ivfFileHeader(width: number, height: number, timebaseDen: number, timebaseNum = 1): Buffer {
  const h = Buffer.alloc(IVF_HEADER_BYTES);
  h.write('DKIF', 0, 'latin1');
  h.writeUInt16LE(0, 4);
  h.writeUInt16LE(IVF_HEADER_BYTES, 6);
  h.write('VP80', 8, 'latin1');
  h.writeUInt16LE(width & 0xffff, 12);
  h.writeUInt16LE(height & 0xffff, 14);
  h.writeUInt32LE(timebaseDen, 16);
  h.writeUInt32LE(timebaseNum, 20);
  h.writeUInt32LE(0, 24); // frame count: unknown on a live stream, and ffmpeg ignores it
  return h;
}

export function ivfFrameHeader(size: number, pts: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32LE(size, 0);
  h.writeBigUInt64LE(BigInt(pts), 4);
  return h;
}

export interface IvfFrame {
  readonly pts: number;
  readonly data: Uint8Array;
}

/** Largest frame accepted from a stream: a corrupt size field must not make us buffer forever. */
const MAX_FRAME_BYTES = 16 << 20;

/** Incremental IVF parser for a pipe: push chunks, get whole frames. */
export class IvfReader {
  private buf: Buffer = Buffer.alloc(0);
  private headerSeen = false;

  constructor(private readonly onFrame: (frame: IvfFrame) => void) {}

  /** Throws on a stream that is not IVF or declares an absurd frame size. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.headerSeen) {
      if (this.buf.length < IVF_HEADER_BYTES) return;
      if (this.buf.toString('latin1', 0, 4) !== 'DKIF') throw new Error('not an IVF stream (no DKIF signature)');
      const headerBytes = this.buf.readUInt16LE(6) || IVF_HEADER_BYTES;
      if (this.buf.length < headerBytes) return;
      this.buf = this.buf.subarray(headerBytes);
      this.headerSeen = true;
    }
    while (this.buf.length >= FRAME_HEADER_BYTES) {
      const size = this.buf.readUInt32LE(0);
      if (size > MAX_FRAME_BYTES) throw new Error(`IVF frame of ${size} bytes`);
      if (this.buf.length < FRAME_HEADER_BYTES + size) break;
      const pts = Number(this.buf.readBigUInt64LE(4));
      // Copied out: the chunk's memory belongs to the pipe's pool.
      const data = new Uint8Array(size);
      data.set(this.buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + size));
      this.buf = this.buf.subarray(FRAME_HEADER_BYTES + size);
      this.onFrame({ pts, data });
    }
  }
}

/** Splits a whole IVF file into frames (tests and tools). */
export function parseIvf(file: Uint8Array): { width: number; height: number; frames: IvfFrame[] } {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const frames: IvfFrame[] = [];
  new IvfReader((f) => frames.push(f)).push(b);
  return { width: b.readUInt16LE(12), height: b.readUInt16LE(14), frames };
}
