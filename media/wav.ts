/**
 * WAV (RIFF) reading and writing for PCM 16-bit and IEEE float 32-bit, the two formats tests,
 * fixtures and tools exchange. Anything else (compressed, 24-bit, ...) goes through ffmpeg.
 */
import { MediaError } from '../core/errors.js';

export interface WavData {
  sampleRate: number;
  channels: number;
  /** Interleaved samples in [-1, 1]. */
  samples: Float32Array;
}

export function parseWav(buf: Uint8Array, name = 'WAV data'): WavData {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(buf[o], buf[o + 1], buf[o + 2], buf[o + 3]);
  if (buf.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new MediaError('corrupt-input', `${name}: not a RIFF/WAVE file`);
  }
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  while (off + 8 <= buf.length) {
    const id = tag(off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = {
        format: dv.getUint16(body, true),
        channels: dv.getUint16(body + 2, true),
        rate: dv.getUint32(body + 4, true),
        bits: dv.getUint16(body + 14, true),
      };
      if (fmt.format === 0xfffe && size >= 40) fmt.format = dv.getUint16(body + 24, true);
    } else if (id === 'data') {
      if (!fmt) throw new MediaError('corrupt-input', `${name}: data chunk before fmt chunk`);
      const end = Math.min(body + size, buf.length);
      if (body + size > buf.length) throw new MediaError('corrupt-input', `${name}: truncated (data chunk claims ${size} bytes, ${buf.length - body} present)`);
      const { format, channels, rate, bits } = fmt;
      let samples: Float32Array;
      if (format === 1 && bits === 16) {
        samples = new Float32Array((end - body) >> 1);
        for (let i = 0; i < samples.length; i++) samples[i] = dv.getInt16(body + 2 * i, true) / 32768;
      } else if (format === 3 && bits === 32) {
        samples = new Float32Array((end - body) >> 2);
        for (let i = 0; i < samples.length; i++) samples[i] = dv.getFloat32(body + 4 * i, true);
      } else {
        throw new MediaError('corrupt-input', `${name}: unsupported WAV encoding (format ${format}, ${bits} bits); decode it with ffmpeg`);
      }
      return { sampleRate: rate, channels, samples };
    }
    off = body + size + (size & 1);
  }
  throw new MediaError('corrupt-input', `${name}: no data chunk`);
}

/** Encodes interleaved float samples as a WAV file (16-bit PCM by default, or 32-bit float). */
export function encodeWav(w: WavData, encoding: 'pcm16' | 'float32' = 'pcm16'): Uint8Array {
  const bytesPer = encoding === 'pcm16' ? 2 : 4;
  const dataBytes = w.samples.length * bytesPer;
  const buf = new Uint8Array(44 + dataBytes);
  const dv = new DataView(buf.buffer);
  const put = (o: number, s: string) => [...s].forEach((c, i) => (buf[o + i] = c.charCodeAt(0)));
  put(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, encoding === 'pcm16' ? 1 : 3, true);
  dv.setUint16(22, w.channels, true);
  dv.setUint32(24, w.sampleRate, true);
  dv.setUint32(28, w.sampleRate * w.channels * bytesPer, true);
  dv.setUint16(32, w.channels * bytesPer, true);
  dv.setUint16(34, bytesPer * 8, true);
  put(36, 'data');
  dv.setUint32(40, dataBytes, true);
  for (let i = 0; i < w.samples.length; i++) {
    const v = w.samples[i];
    if (encoding === 'pcm16') dv.setInt16(44 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(v * 32768))), true);
    else dv.setFloat32(44 + 4 * i, v, true);
  }
  return buf;
}
