/**
 * Plain RTP out: AudioFrames (48 kHz, mono or stereo) as Opus RTP to host:port, the way a media
 * server takes a processed stream back (Janus's RTP forwarders in reverse, a GStreamer
 * `udpsrc`, ffmpeg reading the SDP). `rtpAudioSdp` is the SDP to give the other side. The same
 * sender as the WebRTC peers' (media/webrtc/rtp-audio-sender.ts): 20 ms packets, RTP timestamps
 * from the frames' pts. UDP is fire and forget: nothing here waits on the receiver, and a send
 * that fails is counted, not thrown.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Observable, type OperatorFunction } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import { RtpAudioSender, type RtpAudioSenderStats } from '../webrtc/rtp-audio-sender.js';
import { live } from './metrics.js';
import { opusSdp } from './plain-sdp.js';

export interface RtpAudioOutputOptions {
  readonly host?: string;
  readonly port: number;
  /** Default 111. */
  readonly payloadType?: number;
  /** Channels on the wire (default 2). */
  readonly channels?: 1 | 2;
  readonly bitrate?: number;
  /** Filled in while it runs. */
  readonly stats?: Partial<RtpAudioSenderStats> & { sendErrors?: number };
}

function checked(o: RtpAudioOutputOptions): { host: string; port: number; payloadType: number; channels: 1 | 2 } {
  const host = o.host ?? '127.0.0.1';
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new CausewayError('invalid-argument', `rtpAudioOutput: port must be 1..65535, got ${o.port}`);
  const payloadType = o.payloadType ?? 111;
  if (!Number.isInteger(payloadType) || payloadType < 96 || payloadType > 127) throw new CausewayError('invalid-argument', `rtpAudioOutput: payloadType must be a dynamic type 96..127, got ${payloadType}`);
  const channels = o.channels ?? 2;
  if (channels !== 1 && channels !== 2) throw new CausewayError('invalid-argument', `rtpAudioOutput: channels must be 1 or 2, got ${String(channels)}`);
  return { host, port: o.port, payloadType, channels };
}

/** The SDP a receiver of rtpAudioOutput(o) needs. */
export function rtpAudioSdp(o: RtpAudioOutputOptions): string {
  const c = checked(o);
  return opusSdp(c.host, c.port, c.payloadType, c.channels);
}

export function rtpAudioOutput(o: RtpAudioOutputOptions): OperatorFunction<AudioFrame, never> {
  const c = checked(o);
  return (source) =>
    new Observable<never>((subscriber) => {
      const socket = createSocket('udp4');
      // Sends still queued when the stream ends go out before the socket closes.
      let inFlight = 0;
      let closing = false;
      const closeWhenSent = () => {
        if (closing && inFlight === 0) socket.close();
      };
      const stats = o.stats ?? {};
      stats.sendErrors = 0;
      const ssrc = randomInt(1, 2 ** 32);
      const sender = new RtpAudioSender({
        channels: c.channels,
        ...(o.bitrate !== undefined ? { bitrate: o.bitrate } : {}),
        send: (packet) => {
          packet.header.ssrc = ssrc;
          packet.header.payloadType = c.payloadType;
          inFlight++;
          socket.send(packet.serialize(), c.port, c.host, (e) => {
            if (e) stats.sendErrors!++;
            inFlight--;
            closeWhenSent();
          });
          return true;
        },
      });
      live(stats, sender.stats);
      socket.on('error', () => stats.sendErrors!++);
      const sub = source.subscribe({
        next: (f) => {
          try {
            sender.push(f);
          } catch (e) {
            subscriber.error(e);
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
      return () => {
        sub.unsubscribe();
        sender.dispose();
        closing = true;
        closeWhenSent();
      };
    });
}
