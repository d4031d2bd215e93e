/**
 * The UDP sockets of a plain RTP receiver: the RTP port, and the RTCP port beside it. RFC 3550
 * puts RTCP on the RTP port + 1 unless the SDP says otherwise (`a=rtcp:PORT`, RFC 3605), or
 * muxes it on the RTP port (`a=rtcp-mux`, RFC 5761; always accepted there too). Senders send to
 * port + 1 by default (ffmpeg's `-f rtp`, GStreamer's rtpbin pipelines), so with port 0 a pair
 * of free ports is looked for; when port + 1 was only the default and is taken, the receiver
 * goes on without it (a warning), as RTP itself does not need RTCP.
 */
import { createSocket, type Socket } from 'node:dgram';
import { CausewayError } from '../../core/errors.js';
import { logger } from '../../core/log.js';

const log = logger('rtp');

export interface RtpSockets {
  readonly rtp: Socket;
  readonly port: number;
  readonly rtcp?: Socket;
  readonly rtcpPort?: number;
}

/** Where RTCP is listened for: a port, 'mux' (only on the RTP port), or undefined (RTP port + 1 when free). */
export type RtcpPort = number | 'mux' | undefined;

function bind(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: false });
    const failed = (e: Error) => {
      s.close();
      reject(e);
    };
    s.once('error', failed);
    s.bind(port, host, () => {
      s.off('error', failed);
      resolve(s);
    });
  });
}

/** Tries for a free port pair when the RTP port is picked by the system (port 0). */
const PAIR_TRIES = 20;

export async function bindRtpSockets(host: string, port: number, rtcp: RtcpPort, who: string): Promise<RtpSockets> {
  for (let tries = port === 0 && rtcp === undefined ? PAIR_TRIES : 1; ; tries--) {
    const rtp = await bind(host, port).catch((e: Error) => {
      throw new CausewayError('input-not-found', `${who}: cannot listen on ${host}:${port} (${e.message})`, { cause: e });
    });
    const rtpPort = rtp.address().port;
    if (rtcp === 'mux') return { rtp, port: rtpPort };
    const rtcpPort = rtcp ?? rtpPort + 1;
    try {
      if (rtcpPort > 65535) throw new Error('no port above 65535');
      return { rtp, port: rtpPort, rtcp: await bind(host, rtcpPort), rtcpPort };
    } catch (e) {
      if (rtcp !== undefined) {
        rtp.close();
        throw new CausewayError('input-not-found', `${who}: cannot listen for RTCP on ${host}:${rtcpPort} (${(e as Error).message})`, { cause: e });
      }
      if (tries > 1) {
        rtp.close();
        continue;
      }
      log.warn(`${who}: RTCP port ${rtcpPort} is not free (${(e as Error).message}); sender reports are read only if muxed on ${rtpPort}`);
      return { rtp, port: rtpPort };
    }
  }
}

/** Closes both sockets (either may have been closed by an error already). */
export function closeSockets(s: RtpSockets): void {
  for (const socket of [s.rtp, s.rtcp]) {
    try {
      socket?.close();
    } catch {
      // closed already (an error ended it)
    }
  }
}
