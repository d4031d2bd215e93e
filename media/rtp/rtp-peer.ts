/**
 * A session's peer over plain RTP (`POST /rtp`): the same WhipPeer contract as a WebRTC peer,
 * so the server runs its pipelines unchanged. The offer is the media server's SDP: the Opus it
 * will send (required), optionally the VP8 video it will send, and, for each, when its section
 * has a port, where it takes the results back. The answer names the UDP ports Causeway listens
 * on (RTCP on each + 1). No data channel: events go to `/events/<session>`; no ICE or DTLS:
 * plain RTP on a network the server trusts.
 *
 * Audio and video share one sender timeline (sender-clock.ts), so with the sender's SRs their
 * pts line up. The stream has no end of its own: the peer closes on a BYE from a source it
 * receives, or `idleTimeoutSec` after the last packet (or when nothing came within that long
 * of the answer).
 */
import { randomInt } from 'node:crypto';
import { BehaviorSubject, EMPTY, Observable, Subject } from 'rxjs';
import type { AudioFrame, VideoFrame } from '../../core/frames.js';
import type { PeerState, PeerVideoOptions, WhipPeer } from '../webrtc/peer.js';
import { RtpAudioReceiver } from '../webrtc/rtp-audio-receiver.js';
import { RtpAudioSender } from '../webrtc/rtp-audio-sender.js';
import { VideoIn } from '../webrtc/video-in.js';
import { VideoOut } from '../webrtc/video-out.js';
import { VIDEO_CLOCK } from '../webrtc/vp8-rtp.js';
import { newDoorStats, RtpDoor, type DoorStats } from './rtp-door.js';
import { PtsMapper, RtpTimeline } from './sender-clock.js';
import { bindRtpSockets, closeSockets, type RtpSockets } from './udp-ports.js';
import { offerTracks, peerAnswer, type PeerTracks } from './rtp-peer-sdp.js';

export interface RtpPeerOptions {
  /** Address to listen on and to name in the answer (default 127.0.0.1). */
  readonly host?: string;
  /** Seconds without a packet before the peer closes (default 10). */
  readonly idleTimeoutSec?: number;
  readonly reorderWindowMs?: number;
  /** Size of the decoded video, and the returned video's encoder settings (as for WHIP). */
  readonly video?: PeerVideoOptions;
  readonly ffmpegPath?: string;
}

interface VideoPath {
  readonly sockets: RtpSockets;
  readonly door: RtpDoor;
  readonly stats: DoorStats;
  readonly mapper: PtsMapper;
  readonly input: VideoIn;
  keyframesWanted: number;
  out?: VideoOut;
  ssrc?: number;
}

class RtpPeer implements WhipPeer {
  readonly messages$: Observable<unknown> = EMPTY;
  private readonly faultSubject = new Subject<string>();
  readonly faults$ = this.faultSubject.asObservable();
  private readonly audioSubject = new Subject<AudioFrame>();
  readonly audio$ = this.audioSubject.asObservable();
  private readonly videoSubject = new Subject<VideoFrame>();
  readonly video$ = this.videoSubject.asObservable();
  private readonly stateSubject = new BehaviorSubject<PeerState>('connecting');
  readonly state$ = this.stateSubject.asObservable();
  readonly answer: string;
  private readonly timeline = new RtpTimeline();
  private readonly audioStats = newDoorStats();
  private readonly audioMapper = new PtsMapper(this.timeline, 48000);
  private readonly receiver: RtpAudioReceiver;
  private readonly sender: RtpAudioSender | undefined;
  private readonly video: VideoPath | undefined;
  private packetsOut = 0;
  /** Datagrams that could not be sent back, and socket errors (counted: the session goes on). */
  private sendErrors = 0;
  private lastPacketMs = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly tracks: PeerTracks,
    private readonly audioSockets: RtpSockets,
    videoSockets: RtpSockets | undefined,
    host: string,
    idleTimeoutSec: number,
    private readonly options: RtpPeerOptions,
  ) {
    this.answer = peerAnswer(host, tracks, audioSockets, videoSockets);
    this.watchErrors(audioSockets);
    if (videoSockets) this.watchErrors(videoSockets);
    this.receiver = new RtpAudioReceiver({
      channels: 1,
      reorderWindowMs: options.reorderWindowMs,
      onFrame: (f) => this.audioSubject.next(f),
      mapPts: (...a) => this.audioMapper.pts(...a),
    });
    const back = tracks.audio.returnTo;
    if (back) {
      const ssrc = randomInt(1, 2 ** 32);
      this.sender = new RtpAudioSender({
        channels: 2,
        send: (p) => {
          p.header.ssrc = ssrc;
          p.header.payloadType = back.payloadType;
          this.sendBack(audioSockets, p.serialize(), back);
          return true;
        },
      });
    }
    new RtpDoor({ payloadType: tracks.audio.payloadType, timeline: this.timeline, stats: this.audioStats, onPacket: (p, at) => this.alive() && this.receiver.push(p, at), onBye: () => void this.close() }).attach(
      audioSockets.rtp,
      audioSockets.rtcp,
    );
    if (videoSockets && tracks.video) this.video = this.videoPath(videoSockets, tracks.video.payloadType);
    // Checked every quarter of the timeout: a peer is gone within 1.25 timeouts of its last packet.
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastPacketMs > idleTimeoutSec * 1000) void this.close();
    }, (idleTimeoutSec * 1000) / 4);
  }

  get hasVideo(): boolean {
    return this.video !== undefined;
  }

  send(): boolean {
    // No data channel on plain RTP: the session's events reach /events.
    return this.closing === undefined;
  }

  sendAudio(frame: AudioFrame): void {
    if (this.closing === undefined) this.sender?.push(frame);
  }

  /** To the offer's video port, when it gave one (port 0: the media server takes no video back). */
  sendVideo(frame: VideoFrame): void {
    const v = this.video;
    const back = this.tracks.video?.returnTo;
    if (this.closing !== undefined || v === undefined || back === undefined) return;
    const o = this.options.video ?? {};
    const ssrc = (v.ssrc ??= randomInt(1, 2 ** 32));
    v.out ??= new VideoOut({
      ...(o.fps !== undefined ? { fps: o.fps } : {}),
      ...(o.bitrateKbps !== undefined ? { bitrateKbps: o.bitrateKbps } : {}),
      // Plain RTP carries no key frame requests: regular key frames are how a receiver recovers.
      keyframeIntervalSec: o.keyframeIntervalSec ?? 2,
      ...(this.options.ffmpegPath !== undefined ? { ffmpegPath: this.options.ffmpegPath } : {}),
      send: (p) => {
        p.header.ssrc = ssrc;
        p.header.payloadType = back.payloadType;
        this.sendBack(v.sockets, p.serialize(), back);
        return true;
      },
      onProcessEnded: (message) => this.faultSubject.next(`vp8-encoder: ${message}`),
    });
    v.out.push(frame);
  }

  stats(): Record<string, number> {
    const v = this.video;
    const video: Record<string, number> = {};
    if (v) {
      Object.assign(video, v.input.stats(), v.out?.stats() ?? {}, { keyframesWanted: v.keyframesWanted });
      for (const [k, n] of Object.entries({ ...v.stats, ...v.mapper.stats })) video[`video${k[0]!.toUpperCase()}${k.slice(1)}`] = n;
    }
    return { ...this.audioStats, ...this.audioMapper.stats, packetsOut: this.packetsOut, sendErrors: this.sendErrors, ...this.receiver.stats, ...video };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.idleTimer);
      this.receiver.flush();
      this.receiver.dispose();
      this.sender?.dispose();
      await Promise.all([this.video?.input.close(), this.video?.out?.close()]);
      closeSockets(this.audioSockets);
      if (this.video) closeSockets(this.video.sockets);
      this.audioSubject.complete();
      this.videoSubject.complete();
      this.faultSubject.complete();
      this.stateSubject.next('closed');
      this.stateSubject.complete();
    })();
    return this.closing;
  }

  /** A result datagram to the media server; a failure is counted (an unreachable network), never thrown. */
  private sendBack(sockets: RtpSockets, data: Uint8Array, to: { port: number; address: string }): void {
    this.packetsOut++;
    sockets.rtp.send(data, to.port, to.address, (e) => {
      if (e) this.sendErrors++;
    });
  }

  /** A socket error (ICMP-reported, or the system's) is counted: unhandled, it would end the process. */
  private watchErrors(sockets: RtpSockets): void {
    for (const s of [sockets.rtp, sockets.rtcp]) s?.on('error', () => this.sendErrors++);
  }

  /** A packet came: the peer is connected and not idle. */
  private alive(): true {
    this.lastPacketMs = Date.now();
    if (this.stateSubject.value === 'connecting') this.stateSubject.next('connected');
    return true;
  }

  private videoPath(sockets: RtpSockets, payloadType: number): VideoPath {
    const o = this.options.video ?? {};
    const stats = newDoorStats();
    const mapper = new PtsMapper(this.timeline, VIDEO_CLOCK);
    const path: VideoPath = {
      sockets,
      stats,
      mapper,
      keyframesWanted: 0,
      input: new VideoIn({
        width: o.width ?? 320,
        height: o.height ?? 240,
        pixelFormat: o.pixelFormat ?? 'rgb24',
        ...(this.options.ffmpegPath !== undefined ? { ffmpegPath: this.options.ffmpegPath } : {}),
        onFrame: (f) => this.videoSubject.next(f),
        // No feedback channel: the sender's next key frame is waited for (counted).
        sendPli: () => path.keyframesWanted++,
        onFault: (message) => this.faultSubject.next(`vp8-decoder: ${message}`),
        mapPts: (...a) => mapper.pts(...a),
      }),
      door: new RtpDoor({ payloadType, timeline: this.timeline, stats, onPacket: (p, at) => this.alive() && path.input.push(p, at), onBye: () => void this.close() }),
    };
    path.door.attach(sockets.rtp, sockets.rtcp);
    return path;
  }
}

/** A peer for a plain-RTP offer: Opus in (required), VP8 in when offered, results back to the offer's ports. */
export async function createRtpPeer(offer: string, options: RtpPeerOptions = {}): Promise<WhipPeer> {
  const host = options.host ?? '127.0.0.1';
  const tracks = offerTracks(offer);
  const audio = await bindRtpSockets(host, 0, undefined, 'plain RTP session');
  let video: RtpSockets | undefined;
  try {
    if (tracks.video) video = await bindRtpSockets(host, 0, undefined, 'plain RTP session');
  } catch (e) {
    closeSockets(audio);
    throw e;
  }
  return new RtpPeer(tracks, audio, video, host, options.idleTimeoutSec ?? 10, options);
}
