export { rtpAudioInput, rtpAudioTarget, newRtpInputStats, type RtpAudioInputOptions, type RtpInputStats } from './audio-input.js';
export { parsePlainSdp, opusSdp, type PlainMedia } from './plain-sdp.js';
export { parseRtp, type RtpPacketView } from './rtp-packet.js';
export { isRtcp, parseRtcp, type RtcpPacketView } from './rtcp-packet.js';
export { rtpTimeline, RtpTimeline } from './sender-clock.js';
export { rtpAudioOutput, rtpAudioSdp, type RtpAudioOutputOptions } from './audio-output.js';
export { isRtpSource, rtpSourceAudio, rtpSourceInfo } from './source.js';
export { createRtpPeer, type RtpPeerOptions } from './rtp-peer.js';
export { rtpVideoInput, rtpVideoOutput, rtpVideoSdp, type RtpVideoInputOptions, type RtpVideoOutputOptions } from './video.js';
