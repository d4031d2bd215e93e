/**
 * Plain RTP in: Opus over UDP, as media servers hand streams to processing (Janus's
 * rtp_forward, mediasoup's PlainTransport, GStreamer's udpsink, ffmpeg's `-f rtp`), into
 * AudioFrames at 48 kHz on the RTP timeline. The same receiver as the WebRTC peers'
 * (media/webrtc/rtp-audio-receiver.ts): reorder buffer, Opus PLC for what was lost, a new SSRC
 * continuing where the old stream ended.
 *
 * Whatever else arrives on the port is counted and dropped, never a throw: datagrams that are
 * not RTP, RTCP, other payload types. Loopback only by default (`host`).
 */
import { createSocket, type Socket } from 'node:dgram';
import { Observable } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import { counter } from '../../core/metrics.js';
import { RtpAudioReceiver, type RtpAudioReceiverStats } from '../webrtc/rtp-audio-receiver.js';
import { parsePlainSdp } from './plain-sdp.js';
import { parseRtp } from './rtp-packet.js';

export interface RtpAudioInputOptions {
  /** The stream's SDP: its audio section's port and Opus payload type are used. */
  readonly sdp?: string;
  /** Without an SDP: the UDP port to listen on (0 picks a free one; `onListening` says which)... */
  readonly port?: number;
  /** ...and the Opus payload type (default 111). */
  readonly payloadType?: number;
  /** Address to listen on (default 127.0.0.1: loopback only; '0.0.0.0' for a media server elsewhere). */
  readonly host?: string;
  /** Channels of the frames (default 1; Opus decodes a stereo stream to mono then). */
  readonly channels?: 1 | 2;
  /** How long a missing packet is waited for (default 60 ms). */
  readonly reorderWindowMs?: number;
  /** Ends the stream this long after the last packet, once one has come (default: never, a live input). */
  readonly idleTimeoutMs?: number;
  /** Called with the bound port once the socket listens. */
  readonly onListening?: (port: number) => void;
  /** Filled in while the input runs: the receiver's counts and what was dropped at the door. */
  readonly stats?: RtpInputStats;
}

export interface RtpInputStats extends Partial<RtpAudioReceiverStats> {
  datagrams: number;
  notRtp: number;
  otherPayloadType: number;
}

export function newRtpInputStats(): RtpInputStats {
  return { datagrams: 0, notRtp: 0, otherPayloadType: 0 };
}

const dropped = counter('causeway_rtp_dropped_total', 'Datagrams a plain RTP input dropped at the door, by why', ['why']);

/** The port and payload type an input listens for: from the SDP, or from the options. */
export function rtpAudioTarget(o: RtpAudioInputOptions): { port: number; payloadType: number } {
  if (o.sdp === undefined) {
    const port = o.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CausewayError('invalid-argument', `rtpAudioInput: port must be 0..65535, got ${port}`);
    return { port, payloadType: o.payloadType ?? 111 };
  }
  const audio = parsePlainSdp(o.sdp).find((m) => m.kind === 'audio');
  if (!audio) throw new CausewayError('invalid-argument', 'rtpAudioInput: the SDP has no audio section');
  const opus = [...audio.formats].find(([, f]) => f.codec === 'opus');
  if (!opus) {
    const offered = [...audio.formats].map(([pt, f]) => `${pt} ${f.codec}/${f.clockRate}`).join(', ') || 'none described';
    throw new CausewayError('invalid-argument', `rtpAudioInput: the SDP's audio is not Opus (payload types: ${offered}); plain RTP input takes Opus`);
  }
  return { port: o.port ?? audio.port, payloadType: opus[0] };
}

export function rtpAudioInput(o: RtpAudioInputOptions): Observable<AudioFrame> {
  const target = rtpAudioTarget(o);
  const channels = o.channels ?? 1;
  if (channels !== 1 && channels !== 2) throw new CausewayError('invalid-argument', `rtpAudioInput: channels must be 1 or 2, got ${String(channels)}`);
  return new Observable<AudioFrame>((subscriber) => {
    const stats = o.stats ?? newRtpInputStats();
    let idle: NodeJS.Timeout | undefined;
    const receiver = new RtpAudioReceiver({ channels, reorderWindowMs: o.reorderWindowMs, onFrame: (f) => subscriber.next(f) });
    Object.defineProperties(stats, Object.fromEntries(Object.keys(receiver.stats).map((k) => [k, { get: () => receiver.stats[k as keyof RtpAudioReceiverStats], enumerable: true, configurable: true }])));
    const socket: Socket = createSocket({ type: 'udp4', reuseAddr: false });
    const end = () => {
      receiver.flush();
      subscriber.complete();
    };
    let lastPacketMs = 0;
    // The timer may fire after the event loop was held up (a model loading downstream) with
    // datagrams still unread: the decision waits for the I/O phase (setImmediate runs after it).
    const checkIdle = () =>
      setImmediate(() => {
        const quiet = Date.now() - lastPacketMs;
        if (quiet >= o.idleTimeoutMs!) end();
        else idle = setTimeout(checkIdle, o.idleTimeoutMs! - quiet);
      });
    socket.on('message', (d) => {
      stats.datagrams++;
      const p = parseRtp(d);
      if (p === null) {
        stats.notRtp++;
        dropped.inc({ why: 'not-rtp' });
        return;
      }
      if (p.payloadType !== target.payloadType) {
        stats.otherPayloadType++;
        dropped.inc({ why: 'payload-type' });
        return;
      }
      lastPacketMs = Date.now();
      receiver.push(p, lastPacketMs);
      if (o.idleTimeoutMs !== undefined && idle === undefined) idle = setTimeout(checkIdle, o.idleTimeoutMs);
    });
    socket.on('error', (e) => subscriber.error(new CausewayError('input-not-found', `rtpAudioInput: cannot listen on ${o.host ?? '127.0.0.1'}:${target.port} (${e.message})`, { cause: e })));
    socket.bind(target.port, o.host ?? '127.0.0.1', () => o.onListening?.(socket.address().port));
    return () => {
      clearTimeout(idle);
      receiver.dispose();
      try {
        socket.close();
      } catch {
        // closed already (an error ended it)
      }
    };
  });
}
