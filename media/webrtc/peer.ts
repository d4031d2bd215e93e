/**
 * The peer connection (werift) behind both protocols. WHIP (whip-peer.ts): the client's
 * microphone as AudioFrames and its camera (VP8) as VideoFrames, JSON on its data channel both
 * ways, and processed audio and video back on the same (sendrecv) m-lines. WHEP (whep-peer.ts):
 * the same outputs to a viewer, on sendonly m-lines.
 *
 * Everything a peer holds (werift sockets and timers, Opus WASM memory, ffmpeg VP8 processes,
 * our timers) is released by close(), which also runs by itself when the client goes: ICE/DTLS
 * failure, a disconnect that outlasts the grace period, the client closing DTLS or all its data
 * channels, or no RTP (a viewer: no RTCP) for timeoutSec.
 */
import { ReplaySubject, Subject, type Observable } from 'rxjs';
import {
  RTCPeerConnection,
  useOPUS,
  useVP8,
  type MediaStreamTrack,
  type RTCDataChannel,
  type RTCIceServer,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import { CausewayError, invalidArgument } from '../../core/errors.js';
import { nowMs, type AudioFrame, type PixelFormat, type VideoFrame } from '../../core/frames.js';
import { logger } from '../../core/log.js';
import { counter, sharedMetrics } from '../../core/metrics.js';
import { JsonChannels } from './data-channel.js';
import { RtpAudioReceiver } from './rtp-audio-receiver.js';
import { RtpAudioSender } from './rtp-audio-sender.js';
import { checkVideoFrame } from '../ffmpeg/vp8-encoder.js';
import { badOffer, checkOffer, type OfferInfo, type OfferProtocol } from './sdp-checks.js';
import { forWerift, withOurOpusFmtp } from './sdp-rewrite.js';
import { VideoIn } from './video-in.js';
import { VideoOut, asksForKeyframe } from './video-out.js';

const log = logger('webrtc');

export interface WhipPeerOptions {
  /** Extra host candidates; for loopback tests ['127.0.0.1'] (with iceUseIpv6: false, always set). */
  readonly iceAdditionalHostAddresses?: string[];
  /** Seconds without RTP from the client before it is considered gone and the peer closes (default 10). */
  readonly timeoutSec?: number;
  /** Seconds a disconnected ICE connection may take to recover before the peer fails and closes (default 3). */
  readonly disconnectGraceSec?: number;
  /** STUN/TURN servers; default none (a server normally has an address the client can reach). */
  readonly iceServers?: RTCIceServer[];
  /** UDP port range for ICE, e.g. to match a firewall rule. */
  readonly icePortRange?: [number, number];
  /** How long a missing audio packet is waited for before it is concealed, in wall and in RTP time (default 60 ms; more rides out more jitter at that much more latency). */
  readonly reorderWindowMs?: number;
  readonly video?: PeerVideoOptions;
  /** ffmpeg binary for VP8 (default $FFMPEG_PATH or `ffmpeg` on PATH). */
  readonly ffmpegPath?: string;
}

export interface PeerVideoOptions {
  /** Size of the decoded camera frames, whatever the camera sends (default 320x240). */
  readonly width?: number;
  readonly height?: number;
  /** Pixel format of the decoded camera frames (default 'rgb24'). */
  readonly pixelFormat?: PixelFormat;
  /** Nominal rate of the returned video, for the encoder's rate control (default 30). */
  readonly fps?: number;
  /** Bitrate of the returned video, kbit/s (default 600). */
  readonly bitrateKbps?: number;
  /** Regular key frames in the returned video, seconds apart (default 2). */
  readonly keyframeIntervalSec?: number;
}

export type PeerState = 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** The sending side every peer has; a WHEP viewer is only this. */
export interface WhepPeer {
  /** Complete SDP answer (non-trickle: ICE candidates gathered) to return with 201 Created. */
  readonly answer: string;
  /** The offer has a VP8 video m-line that receives: sendVideo reaches the client. */
  readonly hasVideo: boolean;
  /** JSON messages from the client's data channels; non-JSON gets an error reply instead. */
  readonly messages$: Observable<unknown>;
  /** JSON to the client; queued (256, drop-oldest) until a channel opens. False once closed. */
  send(message: unknown): boolean;
  /** 48 kHz audio (any frame size, 1|2 channels) to the client; other rates throw 'invalid-frame'. */
  sendAudio(frame: AudioFrame): void;
  /**
   * A frame (any size, rgb24|rgba|gray|yuv420p) to the client as VP8, RTP timestamps from pts.
   * Malformed frames throw 'invalid-frame'. Frames wait in a small drop-oldest queue (counted in
   * stats) so a slow encoder never delays the pipeline. Ignored when the client takes no video.
   */
  sendVideo(frame: VideoFrame): void;
  /** Replays the current state. */
  readonly state$: Observable<PeerState>;
  /**
   * One line each time a media process of the peer (ffmpeg's VP8 decoder or encoder) ends on
   * its own: the peer goes on, restarting it or, after repeated failures, without that video.
   */
  readonly faults$: Observable<string>;
  stats(): Record<string, number>;
  /** Idempotent; releases everything and completes the observables (state 'closed'). */
  close(): Promise<void>;
}

/** A WHIP peer: everything a WHEP viewer has (the outputs), plus the client's decoded media. */
export interface WhipPeer extends WhepPeer {
  /**
   * Decoded microphone audio: 48 kHz, 1 channel (2 if the offer says sprop-stereo=1), one frame
   * per Opus packet. pts from the RTP timestamp relative to the first packet; lost packets are
   * concealed in place; reordering within 60 ms is undone. wallMs = arrival time. Hot: frames
   * before subscription are not replayed.
   */
  readonly audio$: Observable<AudioFrame>;
  /**
   * Decoded camera frames, all of the configured size and pixel format (default 320x240 rgb24).
   * pts from the 90 kHz RTP timestamp relative to the first video packet; wallMs = arrival of
   * the frame's last packet. Frames that arrive incomplete are dropped, and so is everything up
   * to the next key frame, which is asked for with RTCP PLI. Hot; completes on close. Never
   * emits for an offer without VP8 video.
   */
  readonly video$: Observable<VideoFrame>;
}

const mediaProcessFailures = counter('causeway_media_process_failures_total', 'ffmpeg processes of peers (VP8 decoder/encoder) that ended on their own, by process', ['process']);

/** Bound on ICE gathering: host candidates take milliseconds; STUN is given 1.5 s of it. */
const GATHER_TIMEOUT_MS = 2000;
/** How long a client that closed its connection has for its DELETE to arrive (see Peer.leaving). */
const LEAVE_GRACE_MS = 300;
/** Bound on werift's own close, so a wedged transport cannot keep close() pending. */
const PC_CLOSE_TIMEOUT_MS = 2000;

/** The werift connection behind a peer, for diagnostics (getStats) and tests; not part of the edge's API. */
export function peerConnectionOf(peer: WhipPeer): RTCPeerConnection | undefined {
  return peer instanceof Peer ? peer.pc : undefined;
}

/** pids of the peer's ffmpeg VP8 processes running now, for leak checks in tests. */
export function ffmpegPidsOf(peer: WhipPeer): number[] {
  return peer instanceof Peer ? peer.ffmpegPids() : [];
}

/**
 * The peer for either protocol. WHIP: the client sends (microphone, camera) and receives what
 * the pipeline returns on the same m-lines. WHEP: a viewer only receives, so our m-lines are
 * sendonly and it is alive while it sends RTCP (receiver reports), not RTP.
 */
export async function createPeer(protocol: OfferProtocol, offerSdp: string, options: WhipPeerOptions = {}): Promise<Peer> {
  const info = checkOffer(offerSdp, protocol);
  // A viewer's receiver reports come every 1-7.5 s (Chrome: audio RTCP every 5 s +-50%).
  const timeoutSec = positive('timeoutSec', options.timeoutSec ?? (protocol === 'WHIP' ? 10 : 15));
  const graceSec = positive('disconnectGraceSec', options.disconnectGraceSec ?? 3);
  const iceServers = options.iceServers ?? [];
  const pc = new RTCPeerConnection({
    iceServers,
    iceUseIpv6: false,
    ...(options.iceAdditionalHostAddresses !== undefined ? { iceAdditionalHostAddresses: [...options.iceAdditionalHostAddresses] } : {}),
    ...(options.icePortRange !== undefined ? { icePortRange: options.icePortRange } : {}),
    ...(iceServers.length > 0 ? { iceStunGatherTimeout: 1.5 } : {}),
    codecs: { audio: [useOPUS()], video: [useVP8()] },
  });
  const peer = new Peer(protocol, pc, info, timeoutSec, graceSec, options);
  try {
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: forWerift(offerSdp) });
    } catch (e) {
      throw badOffer(`werift rejected it: ${(e as Error).message}`, protocol);
    }
    const audio = peer.pickAudioTransceiver();
    if (audio === undefined) throw badOffer('no audio transceiver could be created for the audio m-line', protocol);
    const video = peer.pickVideoTransceiver();
    // werift intersects with the offer: a sendonly offer gets recvonly, a recvonly one sendonly.
    const direction = protocol === 'WHIP' ? 'sendrecv' : 'sendonly';
    audio.setDirection(direction);
    video?.setDirection(direction);
    for (const t of pc.getTransceivers()) if (t !== audio && t !== video) t.setDirection('inactive');
    await pc.setLocalDescription(await pc.createAnswer());
    await waitGathered(pc);
    const sdp = pc.localDescription?.sdp;
    if (sdp === undefined) throw new CausewayError('peer-failed', 'werift produced no local description');
    peer.start(withOurOpusFmtp(sdp, info));
    return peer;
  } catch (e) {
    await peer.close();
    if (e instanceof CausewayError) throw e;
    throw new CausewayError('peer-failed', `could not answer the ${protocol} offer: ${(e as Error).message}`, { cause: e });
  }
}

function positive(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw invalidArgument(`createWhipPeer: ${name} must be a positive number of seconds, got ${v}`);
  return v;
}

function waitGathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unSubscribe();
      reject(new CausewayError('peer-failed', `ICE gathering did not complete within ${GATHER_TIMEOUT_MS} ms`));
    }, GATHER_TIMEOUT_MS);
    const sub = pc.iceGatheringStateChange.subscribe((s) => {
      if (s !== 'complete') return;
      clearTimeout(timer);
      sub.unSubscribe();
      resolve();
    });
  });
}

export class Peer implements WhipPeer {
  answer = '';
  private readonly audioSubject = new Subject<AudioFrame>();
  private readonly videoSubject = new Subject<VideoFrame>();
  private readonly messageSubject = new Subject<unknown>();
  /** ReplaySubject rather than BehaviorSubject: a subscriber after close still sees 'closed'. */
  private readonly stateSubject = new ReplaySubject<PeerState>(1);
  private state: PeerState = 'connecting';
  readonly audio$ = this.audioSubject.asObservable();
  readonly video$ = this.videoSubject.asObservable();
  readonly messages$ = this.messageSubject.asObservable();
  readonly state$ = this.stateSubject.asObservable();
  private readonly faultSubject = new Subject<string>();
  readonly faults$ = this.faultSubject.asObservable();

  private readonly receiver: RtpAudioReceiver;
  private readonly sender: RtpAudioSender;
  private readonly channels: JsonChannels;
  private audioTransceiver: RTCRtpTransceiver | undefined;
  private videoTransceiver: RTCRtpTransceiver | undefined;
  private readonly videoIn: VideoIn;
  private videoOut: VideoOut | undefined;
  private videoSsrc: number | undefined;
  private videoFramesNotSent = 0;
  private readonly unsubscribes: Array<() => void> = [];
  private lastRtpMs = Date.now();
  private livenessTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private leaveTimer: NodeJS.Timeout | undefined;
  private readonly dataChannels: RTCDataChannel[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    readonly protocol: OfferProtocol,
    readonly pc: RTCPeerConnection,
    private readonly info: OfferInfo,
    private readonly timeoutSec: number,
    private readonly graceSec: number,
    private readonly options: WhipPeerOptions,
  ) {
    this.stateSubject.next(this.state);
    this.receiver = new RtpAudioReceiver({
      channels: info.stereoIn ? 2 : 1,
      reorderWindowMs: options.reorderWindowMs,
      onFrame: (f) => {
        sharedMetrics.framesOut.inc({ operator: 'webrtc-audio-in' });
        sharedMetrics.frameAgeMs.observe({ operator: 'webrtc-audio-in' }, nowMs() - f.wallMs);
        this.audioSubject.next(f);
      },
    });
    this.sender = new RtpAudioSender({ channels: info.stereoOut ? 2 : 1, send: (p) => this.sendRtp(this.audioTransceiver, p) });
    const v = options.video ?? {};
    this.videoIn = new VideoIn({
      width: v.width ?? 320,
      height: v.height ?? 240,
      pixelFormat: v.pixelFormat ?? 'rgb24',
      ...(options.ffmpegPath !== undefined ? { ffmpegPath: options.ffmpegPath } : {}),
      onFrame: (f) => {
        sharedMetrics.framesOut.inc({ operator: 'webrtc-video-in' });
        sharedMetrics.frameAgeMs.observe({ operator: 'webrtc-video-in' }, nowMs() - f.wallMs);
        this.videoSubject.next(f);
      },
      onFault: (message) => this.fault('vp8-decoder', message),
      sendPli: () => {
        const t = this.videoTransceiver;
        if (t === undefined || this.videoSsrc === undefined || this.closing !== undefined) return;
        t.receiver.sendRtcpPLI(this.videoSsrc).catch((e: unknown) => log.debug(`PLI send failed: ${(e as Error).message}`));
      },
    });
    this.channels = new JsonChannels({ onMessage: (v) => this.messageSubject.next(v) });
    this.listen(pc.onTrack.subscribe((track) => this.onTrack(track)));
    this.listen(
      pc.onDataChannel.subscribe((ch) => {
        this.channels.attach(ch);
        this.dataChannels.push(ch);
        this.listen(ch.stateChanged.subscribe(() => this.checkChannels()));
        this.checkChannels();
      }),
    );
    this.listen(pc.connectionStateChange.subscribe((s) => this.onConnectionState(s)));
  }

  /** The transceiver of the audio m-line checkOffer chose (by mid), else the first audio one. */
  pickAudioTransceiver(): RTCRtpTransceiver | undefined {
    const audio = this.pc.getTransceivers().filter((t) => t.kind === 'audio');
    this.audioTransceiver = audio.find((t) => t.mid === this.info.audioMid) ?? audio[0];
    return this.audioTransceiver;
  }

  /** The transceiver of the first video m-line that offers VP8, if any. */
  pickVideoTransceiver(): RTCRtpTransceiver | undefined {
    if (this.info.videoMid === undefined) return undefined;
    const t = this.pc.getTransceivers().find((x) => x.kind === 'video' && x.mid === this.info.videoMid);
    if (t === undefined) return undefined;
    this.videoTransceiver = t;
    this.listen(t.sender.onPictureLossIndication.subscribe(() => this.videoOut?.onPictureLoss()));
    this.listen(
      t.receiver.onRtcp.subscribe((p) => {
        if (asksForKeyframe(p, t.sender.ssrc)) this.videoOut?.onPictureLoss();
      }),
    );
    return t;
  }

  /** The answer is ready: from here on the client has timeoutSec to connect and send RTP (a viewer: RTCP). */
  start(answer: string): void {
    this.answer = answer;
    this.lastRtpMs = Date.now();
    for (const dtls of this.pc.dtlsTransports) {
      if (this.protocol === 'WHEP') {
        this.listen(
          dtls.onRtcp.subscribe(() => {
            this.lastRtpMs = Date.now();
          }),
        );
      }
      this.listen(
        dtls.onStateChange.subscribe((s) => {
          // werift marks DTLS closed on any alert from the client, e.g. close_notify when a tab closes.
          if (s === 'closed' && this.closing === undefined) this.leaving('the client closed DTLS');
        }),
      );
    }
    const every = Math.min(1000, (this.timeoutSec * 1000) / 4);
    this.livenessTimer = setInterval(() => {
      const idle = Date.now() - this.lastRtpMs;
      if (idle <= this.timeoutSec * 1000) return;
      if (this.state === 'connecting') this.fail(`the client did not connect within ${this.timeoutSec} s`);
      else this.shutDown(`no ${this.protocol === 'WHIP' ? 'RTP' : 'RTCP'} from the client for ${(idle / 1000).toFixed(1)} s`);
    }, every);
    this.livenessTimer.unref();
  }

  send(message: unknown): boolean {
    return this.channels.send(message);
  }

  sendAudio(frame: AudioFrame): void {
    if (this.closing === undefined) sharedMetrics.framesIn.inc({ operator: 'webrtc-audio-out' });
    this.sender.push(frame);
  }

  sendVideo(frame: VideoFrame): void {
    checkVideoFrame('sendVideo', frame);
    if (this.closing !== undefined) return;
    sharedMetrics.framesIn.inc({ operator: 'webrtc-video-out' });
    const t = this.videoTransceiver;
    const dir = t?.currentDirection;
    if (t === undefined || (dir !== 'sendrecv' && dir !== 'sendonly')) {
      this.videoFramesNotSent++;
      return;
    }
    const v = this.options.video ?? {};
    this.videoOut ??= new VideoOut({
      ...(v.fps !== undefined ? { fps: v.fps } : {}),
      ...(v.bitrateKbps !== undefined ? { bitrateKbps: v.bitrateKbps } : {}),
      ...(v.keyframeIntervalSec !== undefined ? { keyframeIntervalSec: v.keyframeIntervalSec } : {}),
      ...(this.options.ffmpegPath !== undefined ? { ffmpegPath: this.options.ffmpegPath } : {}),
      send: (p) => this.sendRtp(this.videoTransceiver, p),
      onProcessEnded: (message) => this.fault('vp8-encoder', message),
    });
    this.videoOut.push(frame);
  }

  get hasVideo(): boolean {
    return this.videoTransceiver !== undefined;
  }

  /** pids of the ffmpeg VP8 processes running now (tests check they are gone after close). */
  ffmpegPids(): number[] {
    return [this.videoIn.decoderPid, this.videoOut?.encoderPid].filter((p): p is number => p !== undefined);
  }

  stats(): Record<string, number> {
    const r = this.receiver.stats;
    const s = this.sender.stats;
    const c = this.channels.stats;
    return {
      audioPacketsIn: r.packetsIn,
      audioBytesIn: r.bytesIn,
      framesDecoded: r.framesDecoded,
      framesConcealed: r.framesConcealed,
      packetsLost: r.packetsLost,
      packetsReordered: r.packetsReordered,
      packetsLate: r.packetsLate,
      decodeErrors: r.decodeErrors,
      gapsNotConcealed: r.gapsNotConcealed,
      streamResyncs: r.resyncs,
      framesSent: s.framesOut,
      audioPacketsOut: s.packetsOut,
      audioBytesOut: s.bytesOut,
      audioPacketsOutDropped: s.packetsOutDropped,
      ptsAdjustedOut: s.ptsAdjusted,
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      messagesInvalid: c.messagesInvalid,
      messagesDropped: c.messagesDropped,
      messagesInDropped: c.messagesInDropped,
      ...this.videoIn.stats(),
      ...(this.videoOut?.stats() ?? {}),
      videoFramesNotSent: this.videoFramesNotSent,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.release();
    return this.closing;
  }

  private async release(): Promise<void> {
    clearInterval(this.livenessTimer);
    clearTimeout(this.graceTimer);
    clearTimeout(this.leaveTimer);
    for (const u of this.unsubscribes) u();
    this.unsubscribes.length = 0;
    this.receiver.flush(); // audio already received is still delivered
    this.receiver.dispose();
    this.sender.dispose();
    this.channels.close();
    const media = Promise.all([this.videoIn.close(), this.videoOut?.close()]);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.pc.close(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, PC_CLOSE_TIMEOUT_MS);
        }),
      ]);
    } catch (e) {
      log.warn(`closing the peer connection failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    await media; // ffmpeg gets SIGKILL 500 ms after SIGTERM: this is bounded too
    this.state = 'closed';
    this.stateSubject.next('closed');
    this.audioSubject.complete();
    this.videoSubject.complete();
    this.messageSubject.complete();
    this.faultSubject.complete();
    this.stateSubject.complete();
  }

  private fault(process: 'vp8-decoder' | 'vp8-encoder', message: string): void {
    if (this.closing !== undefined) return;
    mediaProcessFailures.inc({ process });
    this.faultSubject.next(message);
  }

  private listen(sub: { unSubscribe: () => void }): void {
    this.unsubscribes.push(sub.unSubscribe);
  }

  private setState(s: PeerState): void {
    if (this.closing !== undefined || this.state === s) return;
    this.state = s;
    this.stateSubject.next(s);
  }

  /**
   * The client is leaving. A WHIP/WHEP client sends its DELETE just before closing its
   * connection, but the two race to us; a short wait lets the DELETE end the session, so that
   * sessions are counted as deleted rather than as peers that went away.
   */
  private leaving(reason: string): void {
    if (this.closing !== undefined || this.leaveTimer !== undefined) return;
    this.leaveTimer = setTimeout(() => this.shutDown(reason), LEAVE_GRACE_MS);
    this.leaveTimer.unref();
  }

  private shutDown(reason: string): void {
    if (this.closing !== undefined) return;
    log.info(`closing peer: ${reason}`);
    void this.close();
  }

  private fail(reason: string): void {
    if (this.closing !== undefined) return;
    log.warn(`peer failed: ${reason}`);
    this.setState('failed');
    void this.close();
  }

  private onConnectionState(s: string): void {
    if (s === 'connected') {
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
      this.setState('connected');
    } else if (s === 'disconnected') {
      this.setState('disconnected');
      if (this.graceTimer === undefined) {
        this.graceTimer = setTimeout(() => this.fail(`still disconnected after ${this.graceSec} s`), this.graceSec * 1000);
        this.graceTimer.unref();
      }
    } else if (s === 'failed') {
      this.fail('ICE/DTLS failed');
    } else if (s === 'closed') {
      this.shutDown('the connection closed');
    }
  }

  /** The client opened data channels and has now closed them all: it left. */
  private checkChannels(): void {
    if (this.dataChannels.every((c) => c.readyState === 'closed')) this.leaving('the client closed its data channels');
  }

  private onTrack(track: MediaStreamTrack): void {
    if (track.kind === 'video') {
      this.listen(
        track.onReceiveRtp.subscribe((rtp) => {
          this.lastRtpMs = Date.now();
          if (this.videoTransceiver?.receiver.tracks.includes(track) === true) this.onVideoRtp(rtp);
        }),
      );
      return;
    }
    // Tracks may appear before the audio transceiver is picked, so ownership is checked per packet.
    this.listen(
      track.onReceiveRtp.subscribe((rtp) => {
        if (this.audioTransceiver?.receiver.tracks.includes(track) === true) this.onAudioRtp(rtp);
      }),
    );
  }

  private onAudioRtp(rtp: RtpPacket): void {
    this.lastRtpMs = Date.now();
    const { ssrc, sequenceNumber, timestamp, payloadType } = rtp.header;
    if (payloadType !== this.info.opusPayloadType) return;
    this.receiver.push({ ssrc, sequenceNumber, timestamp, payload: rtp.payload }, nowMs());
  }

  private onVideoRtp(rtp: RtpPacket): void {
    const { ssrc, sequenceNumber, timestamp, marker, payloadType } = rtp.header;
    if (payloadType !== this.info.vp8PayloadType) return;
    this.videoSsrc = ssrc;
    this.videoIn.push({ ssrc, sequenceNumber, timestamp, marker, payload: rtp.payload }, nowMs());
  }

  private sendRtp(t: RTCRtpTransceiver | undefined, packet: RtpPacket): boolean {
    if (this.closing !== undefined || t === undefined || this.pc.connectionState !== 'connected') return false;
    t.sender.sendRtp(packet).catch((e: unknown) => log.debug(`RTP send failed: ${(e as Error).message}`));
    return true;
  }
}
