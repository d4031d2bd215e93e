// The WHIP (RFC 9725) side of the example page: the HTTP exchange and the SDP details a WHIP
// client needs, apart from the page's UI (app.js) and its test hook. Plain ES module.

/** The session's bearer token as a header, when it has one. */
export function authHeaders(s) {
  return s.token ? { Authorization: `Bearer ${s.token}` } : {};
}

export async function fetchWithTimeout(url, init, timeoutMs) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, signal: ac.signal });
  } catch (e) {
    if (ac.signal.aborted) throw new Error(`no answer from ${url} within ${timeoutMs / 1000} s`);
    throw new Error(`cannot reach ${url}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

/** First non-empty line of an error body, or the status text. */
export async function reasonOf(res) {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // no body
  }
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '') ?? res.statusText ?? '';
  return `${line.slice(0, 300) || 'request failed'} (HTTP ${res.status})`;
}

/** Resolves true when ICE gathering completes, false when it has not within timeoutMs (the offer goes with what it has). */
export function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (complete) => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve(complete);
    };
    const onChange = () => {
      if (pc.iceGatheringState === 'complete') done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

/**
 * The offer asking for stereo Opus back: `stereo=1` on the Opus fmtp line says "I can receive
 * stereo" (RFC 7587); Chrome also decodes the track in stereo only when its local description
 * says so. Sending stays mono (no sprop-stereo).
 */
export function withStereoOpus(sdp) {
  const pt = /a=rtpmap:(\d+) opus\/48000\/2/i.exec(sdp)?.[1];
  if (pt === undefined) return sdp;
  const fmtp = new RegExp(`(a=fmtp:${pt} )([^\r\n]*)`);
  if (!fmtp.test(sdp)) return sdp.replace(new RegExp(`(a=rtpmap:${pt} [^\r\n]*)`), `$1\r\na=fmtp:${pt} stereo=1`);
  return sdp.replace(fmtp, (line, head, params) => (/(^|;)\s*stereo=/.test(params) ? line : `${head}${params};stereo=1`));
}
