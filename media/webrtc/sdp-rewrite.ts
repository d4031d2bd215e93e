/**
 * The two places where we edit SDP around werift 0.25.2, each for a behaviour it lacks.
 */
import type { OfferInfo } from './sdp-checks.js';

function splitSections(sdp: string): { eol: string; parts: string[] } {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return { eol, parts: sdp.split(eol === '\r\n' ? /\r\n(?=m=)/ : /\n(?=m=)/) };
}

/**
 * The offer as werift can take it: werift creates no transceiver for a port-0 bundle-only
 * section (what max-bundle clients offer for all but the first), so such sections get the usual
 * placeholder port 9 and lose the attribute. Bundled, they share the first section's transport.
 */
export function forWerift(sdp: string): string {
  const { eol, parts } = splitSections(sdp);
  const bundleOnly = new RegExp(`${eol}a=bundle-only(?=${eol}|$)`);
  return parts
    .map((part, i) => (i > 0 && bundleOnly.test(part) ? part.replace(/^(m=\S+) 0 /, '$1 9 ').replace(bundleOnly, '') : part))
    .join(eol);
}

/**
 * Our Opus parameters in the answer. werift copies the offer's fmtp into its answer, which
 * would ask the browser for in-band FEC (useinbandfec=1) that our decoder cannot use, and
 * state stereo according to the browser rather than to us. Browsers encode what the answer
 * asks for: stereo=1 when the client says it sends stereo (sprop-stereo=1), and we declare
 * sprop-stereo=1 when we send stereo (the client asked with stereo=1).
 */
export function withOurOpusFmtp(answer: string, info: OfferInfo): string {
  const params = ['minptime=10', ...(info.stereoIn ? ['stereo=1'] : []), ...(info.stereoOut ? ['sprop-stereo=1'] : [])].join(';');
  const { eol, parts } = splitSections(answer);
  const pt = info.opusPayloadType;
  const fmtp = new RegExp(`${eol}a=fmtp:${pt} [^\r\n]*`);
  const rtpmap = new RegExp(`(${eol}a=rtpmap:${pt} [^\r\n]*)`);
  return parts
    .map((part) => {
      if (!part.startsWith('m=audio') || !rtpmap.test(part)) return part;
      return fmtp.test(part) ? part.replace(fmtp, `${eol}a=fmtp:${pt} ${params}`) : part.replace(rtpmap, `$1${eol}a=fmtp:${pt} ${params}`);
    })
    .join(eol);
}
