/**
 * One WHIP session's peer connection (werift): the client's microphone as AudioFrames, JSON on
 * its data channel both ways, and processed audio back on the same (sendrecv) audio m-line.
 *
 * Everything a peer holds (werift sockets and timers, Opus WASM memory, our timers) is released
 * by close(), which also runs by itself when the client goes: ICE/DTLS failure, a disconnect
 * that outlasts the grace period, the client closing DTLS or all its data channels, or no RTP
 * for timeoutSec.
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
import { CausewayError, invalidArgument } from '../../src/core/errors.js';
import { nowMs, type AudioFrame } from '../../src/core/frames.js';
import { logger } from '../../src/core/log.js';
import { m } from '../../src/core/metrics.js';
import { JsonChannels } from './data-channel.js';
import { RtpAudioReceiver } from './rtp-audio-receiver.js';
import { RtpAudioSender } from './rtp-audio-sender.js';
import { badOffer, checkOffer, type OfferInfo } from './sdp-checks.js';
import { forWerift, withOurOpusFmtp } from './sdp-rewrite.js';

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
}

export type PeerState = 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface WhipPeer {
  /** Complete SDP answer (non-trickle: ICE candidates gathered) to return with 201 Created. */
  readonly answer: string;
  /**
   * Decoded microphone audio: 48 kHz, 1 channel (2 if the offer says sprop-stereo=1), one frame
   * per Opus packet. pts from the RTP timestamp relative to the first packet; lost packets are
   * concealed in place; reordering within 60 ms is undone. wallMs = arrival time. Hot: frames
   * before subscription are not replayed.
   */
  readonly audio$: Observable<AudioFrame>;
  /** JSON messages from the client's data channels; non-JSON gets an error reply instead. */
  readonly messages$: Observable<unknown>;
  /** JSON to the client; queued (256, drop-oldest) until a channel opens. False once closed. */
  send(message: unknown): boolean;
  /** 48 kHz audio (any frame size, 1|2 channels) to the client; other rates throw 'invalid-frame'. */
  sendAudio(frame: AudioFrame): void;
  /** Replays the current state. */
  readonly state$: Observable<PeerState>;
  stats(): Record<string, number>;
  /** Idempotent; releases everything and completes the observables (state 'closed'). */
  close(): Promise<void>;
}

/** Bound on ICE gathering: host candidates take milliseconds; STUN is given 1.5 s of it. */
const GATHER_TIMEOUT_MS = 2000;
/** Bound on werift's own close, so a wedged transport cannot keep close() pending. */
const PC_CLOSE_TIMEOUT_MS = 2000;

/** The werift connection behind a peer, for diagnostics (getStats) and tests; not part of the edge's API. */
export function peerConnectionOf(peer: WhipPeer): RTCPeerConnection | undefined {
  return peer instanceof Peer ? peer.pc : undefined;
}

export async function createWhipPeer(offerSdp: string, options: WhipPeerOptions = {}): Promise<WhipPeer> {
  const info = checkOffer(offerSdp);
  const timeoutSec = positive('timeoutSec', options.timeoutSec ?? 10);
  const graceSec = positive('disconnectGraceSec', options.disconnectGraceSec ?? 3);
  const iceServers = options.iceServers ?? [];
  const pc = new RTCPeerConnection({
    iceServers,
    iceUseIpv6: false,
    ...(options.iceAdditionalHostAddresses !== undefined ? { iceAdditionalHostAddresses: [...options.iceAdditionalHostAddresses] } : {}),
    ...(options.icePortRange !== undefined ? { icePortRange: options.icePortRange } : {}),
    ...(iceServers.length > 0 ? { iceStunGatherTimeout: 1.5 } : {}),
    // VP8 only so that a camera is accepted; nothing decodes it yet.
    codecs: { audio: [useOPUS()], video: [useVP8()] },
  });
  const peer = new Peer(pc, info, timeoutSec, graceSec);
  try {
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: forWerift(offerSdp) });
    } catch (e) {
      throw badOffer(`werift rejected it: ${(e as Error).message}`);
    }
    const audio = peer.pickAudioTransceiver();
    if (audio === undefined) throw badOffer('no audio transceiver could be created for the audio m-line');
    audio.setDirection('sendrecv'); // werift intersects with the offer: a sendonly offer gets recvonly
    for (const t of pc.getTransceivers()) if (t !== audio) t.setDirection(t.kind === 'video' ? 'recvonly' : 'inactive');
    await pc.setLocalDescription(await pc.createAnswer());
    await waitGathered(pc);
    const sdp = pc.localDescription?.sdp;
    if (sdp === undefined) throw new CausewayError('peer-failed', 'werift produced no local description');
    peer.start(withOurOpusFmtp(sdp, info));
    return peer;
  } catch (e) {
    await peer.close();
    if (e instanceof CausewayError) throw e;
    throw new CausewayError('peer-failed', `could not answer the WHIP offer: ${(e as Error).message}`, { cause: e });
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

class Peer implements WhipPeer {
  answer = '';
  private readonly audioSubject = new Subject<AudioFrame>();
  private readonly messageSubject = new Subject<unknown>();
  /** ReplaySubject rather than BehaviorSubject: a subscriber after close still sees 'closed'. */
  private readonly stateSubject = new ReplaySubject<PeerState>(1);
  private state: PeerState = 'connecting';
  readonly audio$ = this.audioSubject.asObservable();
  readonly messages$ = this.messageSubject.asObservable();
  readonly state$ = this.stateSubject.asObservable();

  private readonly receiver: RtpAudioReceiver;
  private readonly sender: RtpAudioSender;
  private readonly channels: JsonChannels;
  private audioTransceiver: RTCRtpTransceiver | undefined;
  private readonly unsubscribes: Array<() => void> = [];
  private videoPacketsIn = 0;
  private lastRtpMs = Date.now();
  private livenessTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly dataChannels: RTCDataChannel[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    readonly pc: RTCPeerConnection,
    private readonly info: OfferInfo,
    private readonly timeoutSec: number,
    private readonly graceSec: number,
  ) {
    this.stateSubject.next(this.state);
    this.receiver = new RtpAudioReceiver({
      channels: info.stereoIn ? 2 : 1,
      onFrame: (f) => {
        m.framesOut.inc({ operator: 'webrtc-audio-in' });
        m.frameAgeMs.observe({ operator: 'webrtc-audio-in' }, nowMs() - f.wallMs);
        this.audioSubject.next(f);
      },
    });
    this.sender = new RtpAudioSender({ channels: info.stereoOut ? 2 : 1, send: (p) => this.sendRtp(p) });
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

  /** The answer is ready: from here on the client has timeoutSec to connect and send RTP. */
  start(answer: string): void {
    this.answer = answer;
    this.lastRtpMs = Date.now();
    for (const dtls of this.pc.dtlsTransports) {
      this.listen(
        dtls.onStateChange.subscribe((s) => {
          // werift marks DTLS closed on any alert from the client, e.g. close_notify when a tab closes.
          if (s === 'closed' && this.closing === undefined) this.shutDown('the client closed DTLS');
        }),
      );
    }
    const every = Math.min(1000, (this.timeoutSec * 1000) / 4);
    this.livenessTimer = setInterval(() => {
      const idle = Date.now() - this.lastRtpMs;
      if (idle <= this.timeoutSec * 1000) return;
      if (this.state === 'connecting') this.fail(`the client did not connect within ${this.timeoutSec} s`);
      else this.shutDown(`no RTP from the client for ${(idle / 1000).toFixed(1)} s`);
    }, every);
    this.livenessTimer.unref();
  }

  send(message: unknown): boolean {
    return this.channels.send(message);
  }

  sendAudio(frame: AudioFrame): void {
    if (this.closing === undefined) m.framesIn.inc({ operator: 'webrtc-audio-out' });
    this.sender.push(frame);
  }

  stats(): Record<string, number> {
    const r = this.receiver.stats;
    const s = this.sender.stats;
    const c = this.channels.stats;
    return {
      audioPacketsIn: r.packetsIn,
      audioBytesIn: r.bytesIn,
      videoPacketsIn: this.videoPacketsIn,
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
    };
  }

  close(): Promise<void> {
    this.closing ??= this.release();
    return this.closing;
  }

  private async release(): Promise<void> {
    clearInterval(this.livenessTimer);
    clearTimeout(this.graceTimer);
    for (const u of this.unsubscribes) u();
    this.unsubscribes.length = 0;
    this.receiver.flush(); // audio already received is still delivered
    this.receiver.dispose();
    this.sender.dispose();
    this.channels.close();
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
    this.state = 'closed';
    this.stateSubject.next('closed');
    this.audioSubject.complete();
    this.messageSubject.complete();
    this.stateSubject.complete();
  }

  private listen(sub: { unSubscribe: () => void }): void {
    this.unsubscribes.push(sub.unSubscribe);
  }

  private setState(s: PeerState): void {
    if (this.closing !== undefined || this.state === s) return;
    this.state = s;
    this.stateSubject.next(s);
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
    if (this.dataChannels.every((c) => c.readyState === 'closed')) this.shutDown('the client closed its data channels');
  }

  private onTrack(track: MediaStreamTrack): void {
    if (track.kind === 'video') {
      this.listen(
        track.onReceiveRtp.subscribe(() => {
          this.videoPacketsIn++;
          this.lastRtpMs = Date.now();
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

  private sendRtp(packet: RtpPacket): boolean {
    const t = this.audioTransceiver;
    if (this.closing !== undefined || t === undefined || this.pc.connectionState !== 'connected') return false;
    t.sender.sendRtp(packet).catch((e: unknown) => log.debug(`RTP send failed: ${(e as Error).message}`));
    return true;
  }
}
