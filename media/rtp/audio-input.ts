/**
 * Plain RTP in: Opus over UDP, as media servers hand streams to processing (Janus's
 * rtp_forward, mediasoup's PlainTransport, GStreamer's udpsink, ffmpeg's `-f rtp`), into
 * AudioFrames at 48 kHz. The same receiver as the WebRTC peers'
 * (media/webrtc/rtp-audio-receiver.ts): reorder buffer, Opus PLC for what was lost, a new SSRC
 * continuing where the old stream ended. RTCP is read on the RTP port + 1 (or where the SDP
 * says) and muxed on the RTP port: sender reports put pts on the sender's clock
 * (sender-clock.ts says exactly how), a BYE from the source ends the stream.
 *
 * Whatever else arrives on the port is counted and dropped, never a throw: datagrams that are
 * not RTP or RTCP, other payload types, malformed RTCP. Loopback only by default (`host`).
 */
import { Observable } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import { RtpAudioReceiver, type RtpAudioReceiverStats } from '../webrtc/rtp-audio-receiver.js';
import { live } from './metrics.js';
import { parsePlainSdp } from './plain-sdp.js';
import { LiveEnd, newDoorStats, openDoor, RtpDoor, type DoorStats, type RtpInputOptions } from './rtp-door.js';
import { PtsMapper, rtpTimeline, type PtsMapperStats } from './sender-clock.js';
import type { RtcpPort } from './udp-ports.js';

export interface RtpAudioInputOptions extends RtpInputOptions {
  /** Channels of the frames (default 1; Opus decodes a stereo stream to mono then). */
  readonly channels?: 1 | 2;
  /** How long a missing packet is waited for (default 60 ms). */
  readonly reorderWindowMs?: number;
  /** Filled in while the input runs: the receiver's counts and what was dropped at the door. */
  readonly stats?: RtpInputStats;
}

/** The door's counts (RTP, RTCP, dropped), the receiver's, and the sender clock's steps. */
export interface RtpInputStats extends DoorStats, Partial<RtpAudioReceiverStats>, Partial<PtsMapperStats> {}

export function newRtpInputStats(): RtpInputStats {
  return newDoorStats();
}

/** The port, RTCP port and payload type an input listens for: from the SDP, or from the options. */
export function rtpAudioTarget(o: RtpAudioInputOptions): { port: number; payloadType: number; rtcpPort: RtcpPort } {
  if (o.sdp === undefined) {
    const port = o.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CausewayError('invalid-argument', `rtpAudioInput: port must be 0..65535, got ${port}`);
    return { port, payloadType: o.payloadType ?? 111, rtcpPort: o.rtcpPort };
  }
  const audio = parsePlainSdp(o.sdp).find((m) => m.kind === 'audio');
  if (!audio) throw new CausewayError('invalid-argument', 'rtpAudioInput: the SDP has no audio section');
  const opus = [...audio.formats].find(([, f]) => f.codec === 'opus');
  if (!opus) {
    const offered = [...audio.formats].map(([pt, f]) => `${pt} ${f.codec}/${f.clockRate}`).join(', ') || 'none described';
    throw new CausewayError('invalid-argument', `rtpAudioInput: the SDP's audio is not Opus (payload types: ${offered}); plain RTP input takes Opus`);
  }
  return { port: o.port ?? audio.port, payloadType: opus[0], rtcpPort: o.rtcpPort ?? audio.rtcpPort };
}

export function rtpAudioInput(o: RtpAudioInputOptions): Observable<AudioFrame> {
  const target = rtpAudioTarget(o);
  const channels = o.channels ?? 1;
  if (channels !== 1 && channels !== 2) throw new CausewayError('invalid-argument', `rtpAudioInput: channels must be 1 or 2, got ${String(channels)}`);
  return new Observable<AudioFrame>((subscriber) => {
    const stats = o.stats ?? newRtpInputStats();
    Object.assign(stats, newDoorStats());
    const host = o.host ?? '127.0.0.1';
    const mapper = new PtsMapper(o.timeline ?? rtpTimeline(), 48000);
    const receiver = new RtpAudioReceiver({ channels, reorderWindowMs: o.reorderWindowMs, onFrame: (f) => subscriber.next(f), mapPts: (...a) => mapper.pts(...a) });
    live(stats, receiver.stats);
    live(stats, mapper.stats);
    let closed = false;
    const end = () => {
      if (closed) return;
      receiver.flush();
      subscriber.complete();
    };
    const ends = new LiveEnd(o.idleTimeoutMs, end);
    const door = new RtpDoor({
      payloadType: target.payloadType,
      timeline: mapper.timeline,
      stats,
      onPacket: (p, arrivalMs) => {
        ends.packet();
        receiver.push(p, arrivalMs);
      },
      // Packets sent just before the BYE may still be on their way through the other socket or
      // the reorder buffer: the stream ends once a reorder window has passed.
      onBye: () => {
        if (o.endOnBye !== false) ends.bye(o.reorderWindowMs ?? 60);
      },
    });
    const closeDoor = openDoor(door, { host, port: target.port, rtcpPort: target.rtcpPort, who: 'rtpAudioInput' }, (e) => subscriber.error(e), o.onListening);
    return () => {
      closed = true;
      ends.stop();
      receiver.dispose();
      closeDoor();
    };
  });
}

