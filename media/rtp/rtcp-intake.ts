/**
 * What a plain RTP input does with RTCP, on its RTCP port or muxed on its RTP port: every packet
 * counted by type (`causeway_rtcp_packets_total`), sender reports handed to the input's
 * timeline (sender-clock.ts), BYE passed on for the sources it names; a malformed datagram
 * counted (`causeway_rtp_dropped_total{why="bad-rtcp"}`) and dropped.
 */
import { rtcpPackets, rtpDropped } from './metrics.js';
import { parseRtcp } from './rtcp-packet.js';
import type { RtpTimeline } from './sender-clock.js';

export interface RtcpStats {
  rtcpPackets: number;
  senderReports: number;
  rtcpMalformed: number;
  byes: number;
}

export function newRtcpStats(): RtcpStats {
  return { rtcpPackets: 0, senderReports: 0, rtcpMalformed: 0, byes: 0 };
}

export function takeRtcp(d: Uint8Array, arrivalMs: number, timeline: RtpTimeline, stats: RtcpStats, onBye: (ssrc: number) => void): void {
  const packets = parseRtcp(d);
  if (packets === null) {
    stats.rtcpMalformed++;
    rtpDropped.inc({ why: 'bad-rtcp' });
    return;
  }
  for (const p of packets) {
    stats.rtcpPackets++;
    rtcpPackets.inc({ type: p.type });
    if (p.type === 'sr') {
      stats.senderReports++;
      timeline.senderReport(p.ssrc, p.ntpUs, p.rtpTimestamp, arrivalMs);
    } else if (p.type === 'bye') {
      stats.byes++;
      for (const ssrc of p.ssrcs) onBye(ssrc);
    }
  }
}
