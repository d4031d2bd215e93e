/**
 * The WebRTC edge (werift): WHIP peers that turn a browser's microphone into AudioFrames, carry
 * JSON on its data channel, and send processed audio back; Opus in-process via opusscript.
 */
export { createWhipPeer, type PeerState, type WhipPeer, type WhipPeerOptions } from './whip-peer.js';
export { OpusDecoder, OpusEncoder, OPUS_FRAME_SAMPLES, OPUS_RATE, opusPacketSamples, type OpusEncoderOptions } from './opus.js';
