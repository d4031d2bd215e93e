/** The plain RTP edges' metrics, shared by the inputs and the server's RTP peers (one registration each), and their stats objects' live counts. */
import { counter } from '../../core/metrics.js';

export const rtpDropped = counter('causeway_rtp_dropped_total', 'Datagrams a plain RTP input dropped at the door, by why', ['why']);

export const rtcpPackets = counter('causeway_rtcp_packets_total', 'RTCP packets plain RTP inputs received (each packet of a compound), by type: sr, rr, sdes, bye, app, rtpfb, psfb, xr, other', ['type']);

/** Exposes a component's live counts on the caller's stats object (read when read). */
export function live(stats: object, from: object): void {
  Object.defineProperties(stats, Object.fromEntries(Object.keys(from).map((k) => [k, { get: () => (from as Record<string, unknown>)[k], enumerable: true, configurable: true }])));
}
