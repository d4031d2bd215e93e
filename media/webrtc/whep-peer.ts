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

export async function createWhepPeer(offerSdp: string, options: WhepPeerOptions = {}): Promise<WhepPeer> {
  return createPeer('WHEP', offerSdp, options);
}
