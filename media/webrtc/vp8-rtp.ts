/**
 * VP8 over RTP (RFC 7741): the payload descriptor both ways, a packetizer, and what we read from
 * the VP8 frame header (RFC 6386 §9.1) without decoding: key frame or not, shown or not, size.
 *
 * The descriptor we write is 4 bytes: X=1, I=1 with a 15-bit PictureID (M=1), no TL0PICIDX,
 * TID or KEYIDX. Browsers use the PictureID to tell a lost frame from a late one; it costs 3
 * bytes a packet. Partition boundaries are not tracked (PID is always 0), which RFC 7741 allows:
 * S=1 marks the first packet of the frame, the RTP marker its last.
 */

/** RTP payload budget (descriptor included): fits a 1500-byte MTU after IP/UDP/SRTP/RTP headers and extensions. */
export const VP8_MAX_PAYLOAD = 1200;
/** RTP clock of every video codec in WebRTC. */
export const VIDEO_CLOCK = 90000;

export interface Vp8Descriptor {
  /** S bit: this packet starts a VP8 partition. */
  readonly start: boolean;
  /** Partition index (0 = the first partition, which holds the frame header). */
  readonly partitionId: number;
  /** N bit: the frame is not used as a reference. */
  readonly nonReference: boolean;
  readonly pictureId: number | undefined;
  /** Bytes of descriptor before the VP8 payload. */
  readonly size: number;
}

/** Parses the payload descriptor; undefined when the packet is too short to hold what it declares. */
export function parseVp8Descriptor(payload: Uint8Array): Vp8Descriptor | undefined {
  if (payload.length < 1) return undefined;
  const b0 = payload[0];
  let i = 1;
  let pictureId: number | undefined;
  if ((b0 & 0x80) !== 0) {
    if (payload.length < 2) return undefined;
    const x = payload[1];
    i = 2;
    if ((x & 0x80) !== 0) {
      if (payload.length < i + 1) return undefined;
      if ((payload[i] & 0x80) !== 0) {
        if (payload.length < i + 2) return undefined;
        pictureId = ((payload[i] & 0x7f) << 8) | payload[i + 1];
        i += 2;
      } else {
        pictureId = payload[i] & 0x7f;
        i += 1;
      }
    }
    if ((x & 0x40) !== 0) i += 1; // TL0PICIDX
    if ((x & 0x30) !== 0) i += 1; // TID/Y/KEYIDX
  }
  // A descriptor with no payload after it is not a VP8 packet.
  if (payload.length <= i) return undefined;
  return { start: (b0 & 0x10) !== 0, partitionId: b0 & 0x07, nonReference: (b0 & 0x20) !== 0, pictureId, size: i };
}

/** Writes our 4-byte descriptor (X, I, M=1 15-bit PictureID) into `out` at 0. */
function writeDescriptor(out: Uint8Array, start: boolean, pictureId: number): void {
  out[0] = 0x80 | (start ? 0x10 : 0);
  out[1] = 0x80;
  out[2] = 0x80 | ((pictureId >> 8) & 0x7f);
  out[3] = pictureId & 0xff;
}

const DESCRIPTOR_BYTES = 4;

/**
 * One encoded VP8 frame -> RTP payloads of at most `maxPayload` bytes each, split evenly (equal
 * sizes resist loss better than full packets and a small last one). The caller sets the marker
 * on the last one.
 */
export function packetizeVp8(frame: Uint8Array, pictureId: number, maxPayload = VP8_MAX_PAYLOAD): Uint8Array[] {
  if (frame.length === 0) return [];
  const room = maxPayload - DESCRIPTOR_BYTES;
  if (room < 1) throw new RangeError(`packetizeVp8: maxPayload ${maxPayload} leaves no room after the ${DESCRIPTOR_BYTES}-byte descriptor`);
  const count = Math.ceil(frame.length / room);
  const base = Math.floor(frame.length / count);
  const extra = frame.length % count; // the first `extra` packets carry one byte more
  const out: Uint8Array[] = [];
  let off = 0;
  for (let k = 0; k < count; k++) {
    const n = base + (k < extra ? 1 : 0);
    const p = new Uint8Array(DESCRIPTOR_BYTES + n);
    writeDescriptor(p, k === 0, pictureId & 0x7fff);
    p.set(frame.subarray(off, off + n), DESCRIPTOR_BYTES);
    off += n;
    out.push(p);
  }
  return out;
}

/** The first byte's P bit is 0 on a key frame (RFC 6386 §9.1); checked with the start code too. */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length >= 10 && (frame[0] & 0x01) === 0 && frame[3] === 0x9d && frame[4] === 0x01 && frame[5] === 0x2a;
}

/** show_frame: a hidden frame (an alt-ref) updates references but produces no picture. */
export function isVp8Shown(frame: Uint8Array): boolean {
  return frame.length >= 3 && (frame[0] & 0x10) !== 0;
}

/** Width and height from a key frame's header (scaling bits dropped); undefined for other frames. */
export function vp8KeyframeSize(frame: Uint8Array): { width: number; height: number } | undefined {
  if (!isVp8Keyframe(frame)) return undefined;
  return { width: (frame[6] | (frame[7] << 8)) & 0x3fff, height: (frame[8] | (frame[9] << 8)) & 0x3fff };
}
