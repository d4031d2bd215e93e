/**
 * The SDP of a plain RTP stream (what ffmpeg's `-sdp_file`, GStreamer, Janus's rtp_forward or
 * mediasoup's PlainTransport describe): per media section its port, its payload types and their
 * codecs. Only what a receiver needs; anything it cannot take is an error naming the line.
 */
import { CausewayError } from '../../core/errors.js';

export interface PlainMedia {
  kind: 'audio' | 'video';
  port: number;
  /** The connection address (c=), when given. */
  address?: string;
  /** Where its RTCP goes, when the SDP says: `a=rtcp:PORT` (RFC 3605), or 'mux' (`a=rtcp-mux`, RFC 5761). */
  rtcpPort?: number | 'mux';
  /** Payload type -> codec (lower case), clock rate, channels. */
  formats: Map<number, { codec: string; clockRate: number; channels: number }>;
}

export function parsePlainSdp(sdp: string): PlainMedia[] {
  const lines = sdp.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines[0] !== 'v=0') throw new CausewayError('invalid-argument', 'plain RTP SDP: the first line must be "v=0"');
  const media: PlainMedia[] = [];
  let session: string | undefined;
  for (const [i, line] of lines.entries()) {
    const bad = (why: string) => new CausewayError('invalid-argument', `plain RTP SDP line ${i + 1} ("${line.slice(0, 60)}"): ${why}`);
    if (line.startsWith('m=')) {
      const [kind, port, proto, ...pts] = line.slice(2).split(/\s+/);
      if (kind !== 'audio' && kind !== 'video') continue;
      if (!/^RTP\/S?AVPF?$/.test(proto ?? '')) throw bad(`transport ${proto} is not plain RTP (RTP/AVP)`);
      const p = Number(port);
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw bad('the port is not 0..65535');
      const formats = new Map<number, { codec: string; clockRate: number; channels: number }>();
      for (const pt of pts) {
        const n = Number(pt);
        if (!Number.isInteger(n) || n < 0 || n > 127) throw bad(`payload type ${pt} is not 0..127`);
        // Static payload types carry their codec in their number (RFC 3551); the ones met here:
        if (n === 0) formats.set(n, { codec: 'pcmu', clockRate: 8000, channels: 1 });
        else if (n === 8) formats.set(n, { codec: 'pcma', clockRate: 8000, channels: 1 });
      }
      media.push({ kind, port: p, formats, ...(session ? { address: session } : {}) });
    } else if (line.startsWith('c=')) {
      const address = line.split(/\s+/)[2]?.split('/')[0];
      if (media.length === 0) session = address;
      else if (address) media[media.length - 1]!.address = address;
    } else if (line.startsWith('a=rtcp:') && media.length > 0) {
      const port = Number(/^a=rtcp:(\d+)/.exec(line)?.[1]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('the RTCP port is not 1..65535');
      const m = media[media.length - 1]!;
      if (m.rtcpPort !== 'mux') m.rtcpPort = port;
    } else if (line === 'a=rtcp-mux' && media.length > 0) {
      media[media.length - 1]!.rtcpPort = 'mux';
    } else if (line.startsWith('a=rtpmap:') && media.length > 0) {
      const m = /^a=rtpmap:(\d+)\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(line);
      if (!m) throw bad('a malformed rtpmap');
      media[media.length - 1]!.formats.set(Number(m[1]), { codec: m[2]!.toLowerCase(), clockRate: Number(m[3]), channels: Number(m[4] ?? 1) });
    }
  }
  if (media.length === 0) throw new CausewayError('invalid-argument', 'plain RTP SDP: no audio or video media section (m=)');
  return media;
}

/** The SDP describing one Opus stream that Causeway sends to (or receives on) host:port. */
export function opusSdp(host: string, port: number, payloadType: number, channels: 1 | 2): string {
  return [
    'v=0',
    `o=- 0 0 IN IP4 ${host}`,
    's=Causeway',
    `c=IN IP4 ${host}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${payloadType}`,
    `a=rtpmap:${payloadType} opus/48000/2`,
    `a=fmtp:${payloadType} sprop-stereo=${channels === 2 ? 1 : 0}`,
    '',
  ].join('\r\n');
}
