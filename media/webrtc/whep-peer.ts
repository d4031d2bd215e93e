/**
 * WHEP (watch-only) viewers: a recvonly offer in, an answer whose audio and video m-lines are
 * sendonly; the viewer gets whatever the server sends (a session's returned audio, video and
 * events) and sends nothing but RTCP and data-channel messages. Same peer machinery as WHIP
 * (whip-peer.ts): one werift connection, released by close(), which runs by itself when the
 * viewer leaves (DTLS close, all its data channels closed, ICE failure, or no RTCP for
 * timeoutSec, default 15 s).
 */
import type { Observable } from 'rxjs';
import type { AudioFrame, VideoFrame } from '../../src/core/frames.js';
import { createPeer, type PeerState, type WhipPeerOptions } from './whip-peer.js';

export type WhepPeerOptions = WhipPeerOptions;

export interface WhepPeer {
  /** Complete SDP answer (non-trickle) to return with 201 Created. */
  readonly answer: string;
  /** The viewer offered VP8 video: sendVideo reaches it. */
  readonly hasVideo: boolean;
  /** JSON from the viewer's data channels. */
  readonly messages$: Observable<unknown>;
  /** JSON to the viewer (bounded queue until its channel opens). False once closed. */
  send(message: unknown): boolean;
  /** 48 kHz audio to the viewer as Opus. */
  sendAudio(frame: AudioFrame): void;
  /** A frame to the viewer as VP8 (its own encoder, started on the first frame). */
  sendVideo(frame: VideoFrame): void;
  readonly state$: Observable<PeerState>;
  stats(): Record<string, number>;
  close(): Promise<void>;
}

export async function createWhepPeer(offerSdp: string, options: WhepPeerOptions = {}): Promise<WhepPeer> {
  return createPeer('WHEP', offerSdp, options);
}
