/**
 * A session's peer over plain RTP (`POST /rtp`): the same WhipPeer contract as a WebRTC peer,
 * so the server runs its pipelines unchanged. The offer is the media server's SDP: the Opus it
 * will send (payload type) and, when its audio section has a port, where it takes results back.
 * The answer names the UDP port Causeway listens on. No data channel: events go to
 * `/events/<session>`; no ICE or DTLS: plain RTP on a network the server trusts.
 *
 * The stream has no end of its own: the peer closes `idleTimeoutSec` after the last packet (or
 * when nothing came within that long of the answer).
 */
import { createSocket, type Socket } from 'node:dgram';
import { BehaviorSubject, EMPTY, Observable, Subject } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import type { PeerState, WhipPeer } from '../webrtc/peer.js';
import { RtpAudioReceiver } from '../webrtc/rtp-audio-receiver.js';
import { RtpAudioSender } from '../webrtc/rtp-audio-sender.js';
import { randomInt } from 'node:crypto';
import { opusSdp, parsePlainSdp } from './plain-sdp.js';
import { parseRtp } from './rtp-packet.js';

export interface RtpPeerOptions {
  /** Address to listen on and to name in the answer (default 127.0.0.1). */
  readonly host?: string;
  /** Seconds without a packet before the peer closes (default 10). */
  readonly idleTimeoutSec?: number;
  readonly reorderWindowMs?: number;
}

class RtpPeer implements WhipPeer {
  readonly hasVideo = false;
  readonly messages$: Observable<unknown> = EMPTY;
  readonly faults$: Observable<string> = EMPTY;
  readonly video$ = EMPTY;
  private readonly audioSubject = new Subject<AudioFrame>();
  readonly audio$ = this.audioSubject.asObservable();
  private readonly stateSubject = new BehaviorSubject<PeerState>('connecting');
  readonly state$ = this.stateSubject.asObservable();
  private readonly receiver: RtpAudioReceiver;
  private readonly sender: RtpAudioSender | undefined;
  private readonly counts = { datagrams: 0, notRtp: 0, otherPayloadType: 0, packetsOut: 0 };
  private lastPacketMs = Date.now();
  private readonly idleTimer: NodeJS.Timeout;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly socket: Socket,
    readonly answer: string,
    private readonly payloadType: number,
    returnTo: { address: string; port: number; payloadType: number } | undefined,
    idleTimeoutSec: number,
    reorderWindowMs: number | undefined,
  ) {
    this.receiver = new RtpAudioReceiver({ channels: 1, reorderWindowMs, onFrame: (f) => this.audioSubject.next(f) });
    if (returnTo) {
      const ssrc = randomInt(1, 2 ** 32);
      this.sender = new RtpAudioSender({
        channels: 2,
        send: (p) => {
          p.header.ssrc = ssrc;
          p.header.payloadType = returnTo.payloadType;
          this.counts.packetsOut++;
          socket.send(p.serialize(), returnTo.port, returnTo.address);
          return true;
        },
      });
    }
    socket.on('message', (d) => this.onDatagram(d));
    // Checked every quarter of the timeout: a peer is gone within 1.25 timeouts of its last packet.
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastPacketMs > idleTimeoutSec * 1000) void this.close();
    }, (idleTimeoutSec * 1000) / 4);
  }

  send(): boolean {
    // No data channel on plain RTP: the session's events reach /events.
    return this.closing === undefined;
  }

  sendAudio(frame: AudioFrame): void {
    if (this.closing === undefined) this.sender?.push(frame);
  }

  sendVideo(): void {}

  stats(): Record<string, number> {
    return { ...this.counts, ...this.receiver.stats };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.idleTimer);
      this.receiver.flush();
      this.receiver.dispose();
      this.sender?.dispose();
      this.socket.close();
      this.audioSubject.complete();
      this.stateSubject.next('closed');
      this.stateSubject.complete();
    })();
    return this.closing;
  }

  private onDatagram(d: Buffer): void {
    if (this.closing) return;
    this.counts.datagrams++;
    const p = parseRtp(d);
    if (p === null) return void this.counts.notRtp++;
    if (p.payloadType !== this.payloadType) return void this.counts.otherPayloadType++;
    this.lastPacketMs = Date.now();
    if (this.stateSubject.value === 'connecting') this.stateSubject.next('connected');
    this.receiver.push(p, this.lastPacketMs);
  }
}

/** A peer for a plain-RTP offer: Opus in (required), results back to the offer's port when it has one. */
export async function createRtpPeer(offer: string, options: RtpPeerOptions = {}): Promise<WhipPeer> {
  const host = options.host ?? '127.0.0.1';
  let media;
  try {
    media = parsePlainSdp(offer);
  } catch (e) {
    throw new CausewayError('bad-offer', `bad plain RTP offer: ${(e as Error).message.replace(/^plain RTP SDP:? ?/, '')}`);
  }
  const audio = media.find((m) => m.kind === 'audio');
  if (!audio) throw new CausewayError('bad-offer', 'bad plain RTP offer: no audio section');
  const opus = [...audio.formats].find(([, f]) => f.codec === 'opus');
  if (!opus) throw new CausewayError('bad-offer', `bad plain RTP offer: its audio is not Opus (${[...audio.formats].map(([pt, f]) => `${pt} ${f.codec}`).join(', ') || 'no rtpmap'}); plain RTP takes Opus`);
  const socket = createSocket('udp4');
  const port = await new Promise<number>((resolve, reject) => {
    socket.once('error', (e) => reject(new CausewayError('bad-offer', `cannot listen for RTP on ${host} (${e.message})`)));
    socket.bind(0, host, () => resolve(socket.address().port));
  });
  const returnTo = audio.port > 0 ? { address: audio.address ?? '127.0.0.1', port: audio.port, payloadType: opus[0] } : undefined;
  return new RtpPeer(socket, opusSdp(host, port, opus[0], 2), opus[0], returnTo, options.idleTimeoutSec ?? 10, options.reorderWindowMs);
}
