/** The plain RTP edges' metrics, shared by the inputs and the server's RTP peers (one registration each). */
import { counter } from '../../core/metrics.js';

export const rtpDropped = counter('causeway_rtp_dropped_total', 'Datagrams a plain RTP input dropped at the door, by why', ['why']);

export const rtcpPackets = counter('causeway_rtcp_packets_total', 'RTCP packets plain RTP inputs received (each packet of a compound), by type: sr, rr, sdes, bye, app, rtpfb, psfb, xr, other', ['type']);
