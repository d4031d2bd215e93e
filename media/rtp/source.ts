/**
 * A plain RTP stream named on a command line: a `.sdp` file (what ffmpeg's `-sdp_file`, Janus or
 * GStreamer describe), or `rtp://host:port` (Opus on payload type 111, or `?pt=N`). It is read
 * by rtpAudioInput, not by ffmpeg: ffprobe would wait for packets before anything starts, ffmpeg
 * needs a protocol whitelist for SDP files, and this receiver is the one the WebRTC peers use
 * (reorder buffer, Opus PLC, counted faults). A plain RTP stream has no end: it ends `idleMs`
 * after the last packet.
 */
import { readFileSync } from 'node:fs';
import type { Observable } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import type { MediaInfo } from '../ffmpeg/index.js';
import { rtpAudioInput, rtpAudioTarget, type RtpAudioInputOptions } from './audio-input.js';

export function isRtpSource(input: string): boolean {
  return input.toLowerCase().endsWith('.sdp') || input.startsWith('rtp://');
}

function inputOptions(input: string): RtpAudioInputOptions {
  if (input.startsWith('rtp://')) {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new CausewayError('invalid-argument', `${input}: not an rtp://host:port URL`);
    }
    const port = Number(url.port);
    if (!Number.isInteger(port) || port < 1) throw new CausewayError('invalid-argument', `${input}: an rtp:// input needs a port (rtp://127.0.0.1:5004)`);
    const pt = url.searchParams.get('pt');
    return { host: url.hostname, port, payloadType: pt === null ? 111 : Number(pt) };
  }
  let sdp: string;
  try {
    sdp = readFileSync(input, 'utf8');
  } catch (e) {
    throw new CausewayError('input-not-found', `${input}: cannot read the SDP file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const o: RtpAudioInputOptions = { sdp };
  const c = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
  // Listen where the SDP says the stream goes when that is this machine's loopback or any address.
  return c === '0.0.0.0' ? { ...o, host: '0.0.0.0' } : o;
}

/** What probeMedia would say: 48 kHz Opus, no duration (a live stream). */
export function rtpSourceInfo(input: string): MediaInfo {
  rtpAudioTarget(inputOptions(input));
  return { audio: { sampleRate: 48000, channels: 1, codec: 'opus' } };
}

export function rtpSourceAudio(input: string, idleMs: number): Observable<AudioFrame> {
  return rtpAudioInput({ ...inputOptions(input), idleTimeoutMs: idleMs });
}
