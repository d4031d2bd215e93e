/**
 * WHIP (ingest) peers: the client sends its microphone (and camera) and receives what the
 * pipeline returns on the same m-lines. The machinery, shared with WHEP viewers, is in peer.ts.
 */
import { createPeer, type WhipPeer, type WhipPeerOptions } from './peer.js';

export type { PeerState, PeerVideoOptions, WhipPeer, WhipPeerOptions } from './peer.js';

export async function createWhipPeer(offerSdp: string, options: WhipPeerOptions = {}): Promise<WhipPeer> {
  return createPeer('WHIP', offerSdp, options);
}
