/**
 * The fixed RTP header (RFC 3550 section 5.1), read from a UDP datagram: version 2, CSRCs and a
 * header extension skipped, padding removed. Anything else is not RTP: null, for the caller to
 * count, never a throw (a UDP port takes whatever anyone sends it).
 */
export interface RtpPacketView {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Uint8Array;
}

export function parseRtp(d: Uint8Array): RtpPacketView | null {
  if (d.byteLength < 12 || d[0]! >> 6 !== 2) return null;
  const padding = (d[0]! & 0x20) !== 0;
  const extension = (d[0]! & 0x10) !== 0;
  const csrcs = d[0]! & 0x0f;
  const payloadType = d[1]! & 0x7f;
  // 72-76 are RTCP packet types seen through the RTP bit pattern (RTCP multiplexed on one port).
  if (payloadType >= 72 && payloadType <= 76) return null;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let at = 12 + 4 * csrcs;
  if (extension) {
    if (d.byteLength < at + 4) return null;
    at += 4 + 4 * view.getUint16(at + 2);
  }
  let end = d.byteLength;
  if (padding) {
    const n = d[d.byteLength - 1]!;
    if (n === 0 || n > end - at) return null;
    end -= n;
  }
  if (at > end) return null;
  return {
    payloadType,
    marker: (d[1]! & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: d.subarray(at, end),
  };
}
