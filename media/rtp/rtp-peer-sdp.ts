/**
 * The SDP side of a plain RTP session (rtp-peer.ts): what a media server's offer asks for
 * (Opus audio, optionally VP8 video; per section, when it has a port, where the results go
 * back), and the answer naming the ports Causeway listens on. An offer Causeway cannot take is
 * a 'bad-offer' error (the server's 400) that says why.
 */
import { isIP } from 'node:net';
import { CausewayError } from '../../core/errors.js';
import { parsePlainSdp, type PlainMedia } from './plain-sdp.js';
import type { RtpSockets } from './udp-ports.js';

export interface Track {
  readonly payloadType: number;
  /** Where the media server takes this kind of result back; none when its section's port is 0. */
  readonly returnTo?: { readonly address: string; readonly port: number; readonly payloadType: number };
}

export interface PeerTracks {
  readonly audio: Track;
  readonly video?: Track;
}

const bad = (why: string) => new CausewayError('bad-offer', `bad plain RTP offer: ${why}`);

function track(m: PlainMedia, codec: string): Track | undefined {
  const f = [...m.formats].find(([, x]) => x.codec === codec);
  if (!f) return undefined;
  if (m.port === 0) return { payloadType: f[0] };
  // Results go to an address, never a name: a lookup would be a request of the offer's making.
  const address = m.address ?? '127.0.0.1';
  if (isIP(address) !== 4) throw bad(`its ${m.kind} section's connection address '${address}' is not an IPv4 address (c=IN IP4 a.b.c.d)`);
  return { payloadType: f[0], returnTo: { address, port: m.port, payloadType: f[0] } };
}

const offered = (m: PlainMedia) => [...m.formats].map(([pt, f]) => `${pt} ${f.codec}`).join(', ') || 'no rtpmap';

export function offerTracks(offer: string): PeerTracks {
  let media: PlainMedia[];
  try {
    media = parsePlainSdp(offer);
  } catch (e) {
    throw bad((e as Error).message.replace(/^plain RTP SDP:? ?/, ''));
  }
  const a = media.find((m) => m.kind === 'audio');
  if (!a) throw bad('no audio section');
  const audio = track(a, 'opus');
  if (!audio) throw bad(`its audio is not Opus (${offered(a)}); plain RTP takes Opus`);
  const v = media.find((m) => m.kind === 'video');
  if (!v) return { audio };
  const video = track(v, 'vp8');
  if (!video) throw bad(`its video is not VP8 (${offered(v)}); plain RTP takes VP8 video`);
  return { audio, video };
}

/** The answer: per section, the port Causeway listens on, its RTCP port (or mux), the offer's payload type. */
export function peerAnswer(host: string, tracks: PeerTracks, audio: RtpSockets, video: RtpSockets | undefined): string {
  const rtcp = (s: RtpSockets) => (s.rtcpPort !== undefined ? `a=rtcp:${s.rtcpPort}` : 'a=rtcp-mux');
  const pa = tracks.audio.payloadType;
  const lines = ['v=0', `o=- 0 0 IN IP4 ${host}`, 's=Causeway', `c=IN IP4 ${host}`, 't=0 0'];
  lines.push(`m=audio ${audio.port} RTP/AVP ${pa}`, `a=rtpmap:${pa} opus/48000/2`, `a=fmtp:${pa} sprop-stereo=1`, rtcp(audio));
  if (video && tracks.video) {
    const pv = tracks.video.payloadType;
    lines.push(`m=video ${video.port} RTP/AVP ${pv}`, `a=rtpmap:${pv} VP8/90000`, rtcp(video));
  }
  return [...lines, ''].join('\r\n');
}
