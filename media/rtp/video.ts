/**
 * Plain RTP video: VP8 over UDP in and out, through the WebRTC peers' video paths
 * (media/webrtc/video-in.ts, video-out.ts: reorder, frame assembly, ffmpeg's VP8 decoder and
 * encoder). Plain RTP has no feedback channel here, so a loss cannot ask for a key frame: video
 * in waits for the sender's next one (counted as `keyframesWanted`), and senders should send
 * them regularly (ffmpeg `-g`, GStreamer `vp8enc keyframe-max-dist`). RTCP as for audio
 * (audio-input.ts): sender reports put pts on the sender's clock, a BYE ends the stream.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Observable, type OperatorFunction } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import type { PixelFormat, VideoFrame } from '../../core/frames.js';
import { VIDEO_CLOCK } from '../webrtc/vp8-rtp.js';
import { VideoIn } from '../webrtc/video-in.js';
import { VideoOut } from '../webrtc/video-out.js';
import { live } from './metrics.js';
import { parsePlainSdp } from './plain-sdp.js';
import { LiveEnd, newDoorStats, openDoor, RtpDoor, type DoorStats, type RtpInputOptions } from './rtp-door.js';
import { PtsMapper, rtpTimeline } from './sender-clock.js';
import type { RtcpPort } from './udp-ports.js';

export interface RtpVideoInputOptions extends RtpInputOptions {
  /** Size and format of the decoded frames, whatever the sender's (default 320x240 rgb24). */
  readonly width?: number;
  readonly height?: number;
  readonly pixelFormat?: PixelFormat;
  /** Filled in while it runs. */
  readonly stats?: Record<string, number>;
}

function target(o: RtpVideoInputOptions): { port: number; payloadType: number; rtcpPort: RtcpPort } {
  if (o.sdp === undefined) return { port: o.port ?? 0, payloadType: o.payloadType ?? 96, rtcpPort: o.rtcpPort };
  const video = parsePlainSdp(o.sdp).find((m) => m.kind === 'video');
  if (!video) throw new CausewayError('invalid-argument', 'rtpVideoInput: the SDP has no video section');
  const vp8 = [...video.formats].find(([, f]) => f.codec === 'vp8');
  if (!vp8) throw new CausewayError('invalid-argument', `rtpVideoInput: the SDP's video is not VP8 (${[...video.formats].map(([pt, f]) => `${pt} ${f.codec}`).join(', ') || 'no rtpmap'}); plain RTP video input takes VP8`);
  return { port: o.port ?? video.port, payloadType: vp8[0], rtcpPort: o.rtcpPort ?? video.rtcpPort };
}

export function rtpVideoInput(o: RtpVideoInputOptions): Observable<VideoFrame> {
  const t = target(o);
  return new Observable<VideoFrame>((subscriber) => {
    const stats = o.stats ?? {};
    const host = o.host ?? '127.0.0.1';
    Object.assign(stats, newDoorStats(), { keyframesWanted: 0 });
    const mapper = new PtsMapper(o.timeline ?? rtpTimeline(), VIDEO_CLOCK);
    live(stats, mapper.stats);
    const video = new VideoIn({
      width: o.width ?? 320,
      height: o.height ?? 240,
      pixelFormat: o.pixelFormat ?? 'rgb24',
      onFrame: (f) => subscriber.next(f),
      sendPli: () => stats.keyframesWanted!++,
      onFault: (message) => subscriber.error(new CausewayError('ffmpeg-failed', `rtpVideoInput: the VP8 decoder ended (${message})`)),
      mapPts: (...a) => mapper.pts(...a),
    });
    // A live input's end: frames still inside the decoder (a few) are not waited for.
    const end = () => void video.close().then(() => subscriber.complete());
    const ends = new LiveEnd(o.idleTimeoutMs, end);
    const door = new RtpDoor({
      payloadType: t.payloadType,
      timeline: mapper.timeline,
      stats: stats as unknown as DoorStats,
      onPacket: (p, arrivalMs) => {
        ends.packet();
        video.push(p, arrivalMs);
      },
      // As for audio: the packets sent just before the BYE are given the reorder window to come.
      onBye: () => {
        if (o.endOnBye !== false) ends.bye(100);
      },
    });
    const closeDoor = openDoor(door, { host, port: t.port, rtcpPort: t.rtcpPort, who: 'rtpVideoInput' }, (e) => subscriber.error(e), o.onListening);
    return () => {
      ends.stop();
      void video.close();
      closeDoor();
    };
  });
}

export interface RtpVideoOutputOptions {
  readonly host?: string;
  readonly port: number;
  /** Default 96. */
  readonly payloadType?: number;
  readonly fps?: number;
  readonly bitrateKbps?: number;
  readonly keyframeIntervalSec?: number;
  /** Filled in while it runs: datagrams that could not be sent (the host unreachable, a bad address). */
  readonly stats?: { sendErrors?: number };
}

/** The SDP a receiver of rtpVideoOutput(o) needs. */
export function rtpVideoSdp(o: RtpVideoOutputOptions): string {
  const host = o.host ?? '127.0.0.1';
  const pt = o.payloadType ?? 96;
  return ['v=0', `o=- 0 0 IN IP4 ${host}`, 's=Causeway', `c=IN IP4 ${host}`, 't=0 0', `m=video ${o.port} RTP/AVP ${pt}`, `a=rtpmap:${pt} VP8/90000`, ''].join('\r\n');
}

/**
 * VideoFrames as VP8 RTP to host:port, live: the encoder's queue drops the oldest when it falls
 * behind (counted in its stats), and the frames still inside it when the input ends are not
 * waited for.
 */
export function rtpVideoOutput(o: RtpVideoOutputOptions): OperatorFunction<VideoFrame, never> {
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new CausewayError('invalid-argument', `rtpVideoOutput: port must be 1..65535, got ${o.port}`);
  const pt = o.payloadType ?? 96;
  return (source) =>
    new Observable<never>((subscriber) => {
      const socket = createSocket('udp4');
      const stats = o.stats ?? {};
      stats.sendErrors = 0;
      socket.on('error', () => stats.sendErrors!++);
      const ssrc = randomInt(1, 2 ** 32);
      const out = new VideoOut({
        fps: o.fps ?? 30,
        bitrateKbps: o.bitrateKbps ?? 600,
        keyframeIntervalSec: o.keyframeIntervalSec ?? 2,
        send: (p) => {
          p.header.ssrc = ssrc;
          p.header.payloadType = pt;
          socket.send(p.serialize(), o.port, o.host ?? '127.0.0.1', (e) => {
            if (e) stats.sendErrors!++;
          });
          return true;
        },
      });
      const sub = source.subscribe({
        next: (f) => {
          try {
            out.push(f);
          } catch (e) {
            subscriber.error(e);
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => void out.close().then(() => subscriber.complete()),
      });
      return () => {
        sub.unsubscribe();
        void out.close().finally(() => socket.close());
      };
    });
}
