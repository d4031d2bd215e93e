/**
 * The WebRTC edge (werift): WHIP peers that turn a browser's microphone and camera into
 * AudioFrames and VideoFrames, carry JSON on its data channel, and send processed audio and
 * video back; WHEP peers for watch-only viewers. Opus in-process via opusscript, VP8 via ffmpeg.
 */
export { createWhipPeer, type PeerState, type PeerVideoOptions, type WhipPeer, type WhipPeerOptions } from './whip-peer.js';
export { createWhepPeer, type WhepPeer, type WhepPeerOptions } from './whep-peer.js';
export { OpusDecoder, OpusEncoder, OPUS_FRAME_SAMPLES, OPUS_RATE, opusPacketSamples, type OpusEncoderOptions } from './opus.js';
