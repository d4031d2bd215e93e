/**
 * Checks a WHIP offer before werift sees it, so that a bad offer fails with one clear
 * 'bad-offer' line instead of a werift stack trace or, worse, an answer that can never carry
 * audio. Only what we rely on is checked; werift parses the rest.
 */
import { MediaError } from '../../core/errors.js';

/** Larger than any browser offer (Chrome's with audio, video and data is ~6 kB). */
const MAX_OFFER_CHARS = 64 * 1024;

export interface OfferInfo {
  /** Payload type of Opus in the first usable audio m-line. */
  readonly opusPayloadType: number;
  /** a=mid of that audio m-line, to find its transceiver. */
  readonly audioMid: string | undefined;
  /** The client sends stereo (`sprop-stereo=1`): decode to 2 channels. */
  readonly stereoIn: boolean;
  /** The client wants stereo back (`stereo=1`). */
  readonly stereoOut: boolean;
  readonly hasVideo: boolean;
  /** a=mid of the first video m-line that offers VP8 (the one we decode and answer on). */
  readonly videoMid: string | undefined;
  /** Payload type of VP8 on that m-line. */
  readonly vp8PayloadType: number | undefined;
  readonly hasData: boolean;
}

/** Which protocol an offer came with: WHIP ingest (sends the microphone) or a WHEP viewer (receives). */
export type OfferProtocol = 'WHIP' | 'WHEP';

export function badOffer(reason: string, protocol: OfferProtocol = 'WHIP'): MediaError {
  return new MediaError('bad-offer', `bad ${protocol} offer: ${reason.replace(/\s+/g, ' ').trim()}`);
}

interface Section {
  readonly kind: string;
  readonly port: number;
  readonly formats: readonly string[];
  readonly attrs: readonly string[];
}

export function checkOffer(sdp: unknown, protocol: OfferProtocol = 'WHIP'): OfferInfo {
  const bad = (reason: string): MediaError => badOffer(reason, protocol);
  if (typeof sdp !== 'string' || sdp.trim().length === 0) throw bad('the body is empty, expected application/sdp');
  if (sdp.length > MAX_OFFER_CHARS) throw bad(`the SDP is ${sdp.length} characters, more than the ${MAX_OFFER_CHARS} accepted`);
  const lines = sdp.split(/\r?\n/).map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'v=0') throw bad('not SDP (the first line must be "v=0")');
  const badLine = lines.findIndex((l) => !/^[a-z]=/.test(l));
  if (badLine >= 0) throw bad(`malformed SDP line ${badLine + 1}: ${JSON.stringify(lines[badLine].slice(0, 60))}`);

  const session: string[] = [];
  const sections: Section[] = [];
  let current: { kind: string; port: number; formats: string[]; attrs: string[] } | undefined;
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('m=')) {
      const m = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)*)$/.exec(line);
      if (m === null) throw bad(`malformed m-line ${i + 1}: ${JSON.stringify(line.slice(0, 60))}`);
      current = { kind: m[1], port: Number(m[2]), formats: m[4].trim().split(' ').filter(Boolean), attrs: [] };
      sections.push(current);
    } else if (line.startsWith('a=')) {
      (current?.attrs ?? session).push(line.slice(2));
    }
  }
  if (sections.length === 0) throw bad('the SDP has no media sections (m= lines)');

  const has = (s: Section, prefix: string): boolean => s.attrs.some((a) => a.startsWith(prefix)) || session.some((a) => a.startsWith(prefix));
  // Port 0 marks a rejected or stopped section, unless it is bundle-only (RFC 8843: it rides on
  // the first section's transport), which is how max-bundle clients offer all but the first.
  const live = (s: Section): boolean => s.port !== 0 || s.attrs.includes('bundle-only');
  const audio = sections.filter((s) => s.kind === 'audio' && live(s));
  if (audio.length === 0) {
    throw bad(
      protocol === 'WHIP'
        ? 'no audio m-line (Causeway needs the microphone: add an audio transceiver)'
        : 'no audio m-line (a viewer receives the session audio: add a recvonly audio transceiver)',
    );
  }
  const active = sections.filter(live);
  for (const s of active) {
    if (!has(s, 'ice-ufrag:') || !has(s, 'ice-pwd:')) throw bad(`the ${s.kind} m-line has no ICE credentials (a=ice-ufrag / a=ice-pwd)`);
    if (!has(s, 'fingerprint:')) throw bad(`the ${s.kind} m-line has no DTLS fingerprint (a=fingerprint)`);
  }

  for (const s of audio) {
    const pt = opusPayloadType(s);
    if (pt === undefined) continue;
    const fmtp = s.attrs.find((a) => a.startsWith(`fmtp:${pt} `))?.slice(`fmtp:${pt} `.length) ?? '';
    const params = new Map(
      fmtp.split(';').map((kv) => {
        const [k, v = ''] = kv.split('=');
        return [k.trim().toLowerCase(), v.trim()] as const;
      }),
    );
    const video = active.find((x) => x.kind === 'video' && vp8PayloadType(x) !== undefined);
    return {
      opusPayloadType: pt,
      audioMid: s.attrs.find((a) => a.startsWith('mid:'))?.slice(4),
      stereoIn: params.get('sprop-stereo') === '1',
      stereoOut: params.get('stereo') === '1',
      hasVideo: active.some((x) => x.kind === 'video'),
      videoMid: video?.attrs.find((a) => a.startsWith('mid:'))?.slice(4),
      vp8PayloadType: video === undefined ? undefined : vp8PayloadType(video),
      hasData: active.some((x) => x.kind === 'application'),
    };
  }
  const offered = audio.flatMap((s) => s.attrs.filter((a) => a.startsWith('rtpmap:')).map((a) => a.split(' ')[1]?.split('/')[0]));
  throw bad(`the audio m-line offers no Opus (offered: ${offered.length > 0 ? offered.join(', ') : 'no rtpmap'})`);
}

function opusPayloadType(s: Section): number | undefined {
  for (const a of s.attrs) {
    const m = /^rtpmap:(\d+) opus\/48000(?:\/[12])?$/i.exec(a);
    if (m !== null && s.formats.includes(m[1])) return Number(m[1]);
  }
  return undefined;
}

function vp8PayloadType(s: Section): number | undefined {
  for (const a of s.attrs) {
    const m = /^rtpmap:(\d+) vp8\/90000$/i.exec(a);
    if (m !== null && s.formats.includes(m[1])) return Number(m[1]);
  }
  return undefined;
}
