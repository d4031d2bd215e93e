/**
 * In-process Opus (libopus compiled to WASM, shipped by `opusscript`; see opus-wasm.ts for why
 * its JavaScript wrapper is not used): float32 in and out, 48 kHz only, because WebRTC's Opus
 * RTP clock is always 48 kHz and resampling belongs to the pipeline.
 */
import { CausewayError, invalidArgument } from '../../core/errors.js';
import { NativeOpus } from './opus-wasm.js';

export const OPUS_RATE = 48000;
/** 20 ms at 48 kHz: the packet duration WebRTC uses and the one we send. */
export const OPUS_FRAME_SAMPLES = 960;
/** libopus refuses anything beyond 120 ms per packet. */
const MAX_FRAME_SAMPLES = 5760;

function checkConfig(who: string, sampleRate: number, channels: number): void {
  if (sampleRate !== OPUS_RATE) throw invalidArgument(`${who}: sampleRate must be 48000, got ${sampleRate}`);
  if (channels !== 1 && channels !== 2) throw invalidArgument(`${who}: channels must be 1 or 2, got ${channels}`);
}

function toFloat(pcm: Int16Array, out: Float32Array, offset = 0, count = pcm.length): void {
  for (let i = 0; i < count; i++) out[offset + i] = pcm[i] / 32768;
}

export class OpusDecoder {
  private readonly native: NativeOpus;
  /** TOC byte of the last good packet: concealment reuses its mode, bandwidth and duration. */
  private lastToc: number | undefined;

  constructor(
    readonly sampleRate: 48000,
    readonly channels: 1 | 2,
  ) {
    checkConfig('OpusDecoder', sampleRate, channels);
    this.native = new NativeOpus(channels, OPUS_FRAME_SAMPLES);
  }

  /** Decodes one packet into fresh interleaved float32. Throws 'invalid-frame' for a corrupt packet. */
  decode(packet: Uint8Array): Float32Array {
    this.live('decode');
    if (packet.byteLength === 0) throw new CausewayError('invalid-frame', 'OpusDecoder.decode: empty packet');
    let pcm: Int16Array;
    try {
      pcm = this.native.decode(packet);
    } catch (e) {
      throw new CausewayError('invalid-frame', `OpusDecoder.decode: ${(e as Error).message} (${packet.byteLength} bytes)`, { cause: e });
    }
    this.lastToc = packet[0];
    const out = new Float32Array(pcm.length);
    toFloat(pcm, out);
    return out;
  }

  /**
   * Packet-loss concealment for `samples` sample frames (per channel), as interleaved float32.
   * libopus conceals for the duration of the packet it is given; a TOC byte with no frame data
   * counts as a lost frame of that TOC's duration, so feeding the last packet's TOC conceals in
   * its steps (a NULL packet would always conceal 120 ms and fade too fast). Before any packet
   * there is nothing to extrapolate: silence.
   */
  decodeLoss(samples: number): Float32Array {
    this.live('decodeLoss');
    if (!Number.isInteger(samples) || samples <= 0) throw invalidArgument(`OpusDecoder.decodeLoss: samples must be a positive integer, got ${samples}`);
    const out = new Float32Array(samples * this.channels);
    if (this.lastToc === undefined) return out;
    // Code 0 (one frame) keeps the config and stereo bits of the last packet.
    const toc = Uint8Array.of(this.lastToc & 0xfc);
    let filled = 0;
    while (filled < samples) {
      let pcm: Int16Array;
      try {
        pcm = this.native.decode(toc);
      } catch {
        break; // leave the rest silent rather than fail a live stream
      }
      const got = Math.min(pcm.length, (samples - filled) * this.channels);
      if (got <= 0) break;
      toFloat(pcm, out, filled * this.channels, got);
      filled += got / this.channels;
    }
    return out;
  }

  dispose(): void {
    this.native.dispose();
  }

  private live(op: string): void {
    if (!this.native.alive) throw new CausewayError('disposed', `OpusDecoder.${op}: decoder was disposed`);
  }
}

export interface OpusEncoderOptions {
  /** Target bitrate in bit/s; default libopus's own choice (about 51 kbit/s mono at 20 ms). */
  readonly bitrate?: number;
}

export class OpusEncoder {
  private readonly native: NativeOpus;
  /** Samples waiting for a full 20 ms packet. */
  private readonly pending: Int16Array;
  private pendingSamples = 0;

  constructor(
    readonly sampleRate: 48000,
    readonly channels: 1 | 2,
    opts: OpusEncoderOptions = {},
  ) {
    checkConfig('OpusEncoder', sampleRate, channels);
    const bitrate = opts.bitrate;
    if (bitrate !== undefined && (!Number.isInteger(bitrate) || bitrate < 6000 || bitrate > 510000)) {
      throw invalidArgument(`OpusEncoder: bitrate must be an integer in 6000..510000 bit/s, got ${bitrate}`);
    }
    this.native = new NativeOpus(channels, OPUS_FRAME_SAMPLES);
    if (bitrate !== undefined) this.native.setBitrate(bitrate);
    this.pending = new Int16Array(OPUS_FRAME_SAMPLES * channels);
  }

  /** Samples (per channel) buffered for the next packet. */
  get buffered(): number {
    return this.pendingSamples;
  }

  /** Feeds interleaved float32 of any length; returns the 20 ms packets completed by it (0..n). */
  encode(interleaved: Float32Array): Uint8Array[] {
    if (!this.native.alive) throw new CausewayError('disposed', 'OpusEncoder.encode: encoder was disposed');
    if (interleaved.length % this.channels !== 0) {
      throw new CausewayError('invalid-frame', `OpusEncoder.encode: ${interleaved.length} values is not a whole number of ${this.channels}-channel samples`);
    }
    const packets: Uint8Array[] = [];
    const full = this.pending.length;
    let at = this.pendingSamples * this.channels;
    for (let i = 0; i < interleaved.length; i++) {
      const v = interleaved[i];
      // NaN -> 0: one bad sample must not turn a whole packet into noise.
      this.pending[at] = v > 1 ? 32767 : v < -1 ? -32768 : v === v ? Math.round(v * 32767) : 0;
      if (++at === full) {
        packets.push(this.native.encode(this.pending));
        at = 0;
      }
    }
    this.pendingSamples = at / this.channels;
    return packets;
  }

  dispose(): void {
    this.native.dispose();
  }
}

/** Samples per channel in an Opus packet, from its TOC and frame count (RFC 6716 §3.1); 0 if unreadable. */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.byteLength === 0) return 0;
  const toc = packet[0];
  const config = toc >> 3;
  let perFrame: number;
  if (config < 12) perFrame = [480, 960, 1920, 2880][config & 3]; // SILK 10/20/40/60 ms
  else if (config < 16) perFrame = (config & 1) === 0 ? 480 : 960; // hybrid 10/20 ms
  else perFrame = [120, 240, 480, 960][config & 3]; // CELT 2.5/5/10/20 ms
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 3) {
    if (packet.byteLength < 2) return 0;
    frames = packet[1] & 0x3f;
  } else frames = 2;
  const total = perFrame * frames;
  return total > MAX_FRAME_SAMPLES ? 0 : total;
}
