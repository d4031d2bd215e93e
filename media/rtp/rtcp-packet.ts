/**
 * RTCP (RFC 3550 section 6) read from a UDP datagram: a compound packet (or a single one, as
 * RFC 5506 allows) split into its packets. Only what a plain RTP receiver uses is decoded: the
 * sender report's clock pair (NTP wallclock <-> RTP timestamp), the CNAME, BYE's sources; the
 * rest is named by type so it can be counted. A datagram whose lengths do not add up is
 * malformed: null, for the caller to count, never a throw (a UDP port takes whatever comes).
 */

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;

export type RtcpPacketView =
  | {
      readonly type: 'sr';
      readonly ssrc: number;
      /** The sender's wallclock when it sent the report, µs since the Unix epoch (from its 64-bit NTP time). */
      readonly ntpUs: number;
      /** The RTP timestamp that corresponds to `ntpUs` on the sender's media clock. */
      readonly rtpTimestamp: number;
      readonly packetCount: number;
      readonly octetCount: number;
    }
  | { readonly type: 'rr'; readonly ssrc: number }
  | { readonly type: 'sdes'; readonly cname?: string }
  | { readonly type: 'bye'; readonly ssrcs: readonly number[] }
  | { readonly type: 'app' | 'rtpfb' | 'psfb' | 'xr' | 'other'; readonly packetType: number };

const TYPES: Record<number, 'sr' | 'rr' | 'sdes' | 'bye' | 'app' | 'rtpfb' | 'psfb' | 'xr'> = { 200: 'sr', 201: 'rr', 202: 'sdes', 203: 'bye', 204: 'app', 205: 'rtpfb', 206: 'psfb', 207: 'xr' };

/**
 * Whether a datagram on an RTP port is RTCP (RFC 5761 section 4: with rtcp-mux, the second byte
 * of RTCP is its packet type, 192-223, which RTP's marker bit + payload type never use).
 */
export function isRtcp(d: Uint8Array): boolean {
  return d.byteLength >= 4 && d[0]! >> 6 === 2 && d[1]! >= 192 && d[1]! <= 223;
}

export function parseRtcp(d: Uint8Array): RtcpPacketView[] | null {
  if (!isRtcp(d) || d.byteLength % 4 !== 0) return null;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: RtcpPacketView[] = [];
  for (let at = 0; at < d.byteLength; ) {
    if (d.byteLength - at < 4 || d[at]! >> 6 !== 2) return null;
    const count = d[at]! & 0x1f;
    const packetType = d[at + 1]!;
    const bytes = 4 * (view.getUint16(at + 2) + 1);
    const end = at + bytes;
    if (end > d.byteLength) return null;
    // Only the last packet of a compound may be padded (RFC 3550 section 6.4.1).
    const padded = (d[at]! & 0x20) !== 0;
    if (padded && (end !== d.byteLength || d[end - 1]! === 0 || d[end - 1]! > bytes - 4)) return null;
    const body = end - (padded ? d[end - 1]! : 0);
    const type = TYPES[packetType];
    if (type === 'sr') {
      // Header 4, sender SSRC 4, sender info 20, then `count` report blocks of 24.
      if (body - at < 28 + 24 * count) return null;
      const sec = view.getUint32(at + 8);
      const frac = view.getUint32(at + 12);
      out.push({
        type,
        ssrc: view.getUint32(at + 4),
        ntpUs: Math.round((sec - NTP_UNIX_OFFSET_S) * 1e6 + (frac * 1e6) / 2 ** 32),
        rtpTimestamp: view.getUint32(at + 16),
        packetCount: view.getUint32(at + 20),
        octetCount: view.getUint32(at + 24),
      });
    } else if (type === 'rr') {
      if (body - at < 8 + 24 * count) return null;
      out.push({ type, ssrc: view.getUint32(at + 4) });
    } else if (type === 'sdes') {
      const cname = sdesCname(d, at + 4, body, count);
      if (cname === null) return null;
      out.push(cname === undefined ? { type } : { type, cname });
    } else if (type === 'bye') {
      if (body - at < 4 + 4 * count) return null;
      out.push({ type, ssrcs: Array.from({ length: count }, (_, i) => view.getUint32(at + 4 + 4 * i)) });
    } else {
      out.push({ type: type ?? 'other', packetType });
    }
    at = end;
  }
  return out;
}

/** The first CNAME in an SDES packet's chunks; undefined when there is none, null when the chunks overrun. */
function sdesCname(d: Uint8Array, from: number, end: number, chunks: number): string | undefined | null {
  let cname: string | undefined;
  let at = from;
  for (let c = 0; c < chunks; c++) {
    at += 4; // the chunk's SSRC
    for (;;) {
      if (at >= end) return null;
      const item = d[at]!;
      if (item === 0) break;
      if (at + 2 > end || at + 2 + d[at + 1]! > end) return null;
      if (item === 1 && cname === undefined) cname = new TextDecoder().decode(d.subarray(at + 2, at + 2 + d[at + 1]!));
      at += 2 + d[at + 1]!;
    }
    // The item list ends with a null octet, padded to the next 32-bit boundary.
    at = (at - from + 4) & ~3;
    at += from;
  }
  return cname;
}
