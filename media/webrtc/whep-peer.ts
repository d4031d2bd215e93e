/**
 * WHEP (watch-only) viewers: a recvonly offer in, an answer whose audio and video m-lines are
 * sendonly; the viewer gets whatever the server sends (a session's returned audio, video and
 * events) and sends nothing but RTCP and data-channel messages. Same peer machinery as WHIP
 * (peer.ts): one werift connection, released by close(), which runs by itself when the
 * viewer leaves (DTLS close, all its data channels closed, ICE failure, or no RTCP for
 * timeoutSec, default 15 s).
 */
import { createPeer, type WhepPeer, type WhipPeerOptions } from './peer.js';

export type WhepPeerOptions = WhipPeerOptions;

export type { WhepPeer } from './peer.js';

export async function createWhepPeer(offerSdp: string, options: WhepPeerOptions = {}): Promise<WhepPeer> {
  return createPeer('WHEP', offerSdp, options);
}
