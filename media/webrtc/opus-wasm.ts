/**
 * libopus from opusscript's WASM build, driven directly rather than through opusscript's
 * JavaScript wrapper. That wrapper (0.1.1) takes `HEAPU16.subarray(ptr, ...)` of byte pointers
 * from malloc, so its PCM buffers sit at twice the allocated address, on memory it does not own:
 * with a few stereo coders alive libopus aborts on a corrupted state
 * ("celt_decoder.c: assertion failed: st->postfilter_tapset >= 0"). Here each coder owns its
 * buffers, allocated for the most the C++ side can write.
 *
 * The C++ handler's contract (opusscript's src/opusscript_encoder.cpp):
 * - `_encode(pcm, n, out, frameSize)` first repacks `n` int16 values from byte pairs; with n = 0
 *   it encodes the int16 samples at `pcm` as they are, which is what we do.
 * - `_decode(packet, len, out)` decodes up to 120 ms and writes each int16 sample as two int16
 *   slots (low byte, high byte), so `out` needs 4 bytes per sample.
 */
import { createRequire } from 'node:module';

interface NativeHandler {
  _encode(pcm: number, bytes: number, out: number, frameSize: number): number;
  _decode(packet: number, bytes: number, out: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
}

interface OpusNative {
  readonly HEAP16: Int16Array;
  readonly HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  readonly OpusScriptHandler: {
    new (rate: number, channels: number, application: number): NativeHandler;
    destroy_handler(h: NativeHandler): void;
  };
}

const APPLICATION_AUDIO = 2049;
const SET_BITRATE = 4002;
/** The C++ side decodes into a 120 ms buffer. */
const MAX_DECODE_SAMPLES = 5760;
/** RFC 6716: at most 3 frames of 1275 bytes (what opusscript also allows). */
export const MAX_PACKET_BYTES = 1276 * 3;

let native: OpusNative | undefined;

/** One WASM instance for the process, instantiated synchronously on first use. */
function load(): OpusNative {
  if (native === undefined) {
    const require = createRequire(import.meta.url);
    const factory = require('opusscript/build/opusscript_native_wasm.js') as () => OpusNative;
    native = factory();
  }
  return native;
}

/** An encoder and decoder pair with its own WASM buffers; callers use one side or the other. */
export class NativeOpus {
  private readonly m = load();
  private handler: NativeHandler | undefined;
  private readonly pcmIn: number;
  private readonly packet: number;
  private readonly pcmOut: number;

  constructor(
    private readonly channels: number,
    private readonly frameSamples: number,
  ) {
    this.handler = new this.m.OpusScriptHandler(48000, channels, APPLICATION_AUDIO);
    this.pcmIn = this.m._malloc(frameSamples * channels * 2);
    this.packet = this.m._malloc(MAX_PACKET_BYTES);
    this.pcmOut = this.m._malloc(MAX_DECODE_SAMPLES * channels * 4);
  }

  get alive(): boolean {
    return this.handler !== undefined;
  }

  setBitrate(bitrate: number): void {
    const r = this.live()._encoder_ctl(SET_BITRATE, bitrate);
    if (r < 0) throw new Error(`libopus refused bitrate ${bitrate} (error ${r})`);
  }

  /** Encodes one frame of `frameSamples` interleaved int16; returns the packet (a copy). */
  encode(pcm: Int16Array): Uint8Array {
    const h = this.live();
    this.m.HEAP16.set(pcm, this.pcmIn >> 1);
    const len = h._encode(this.pcmIn, 0, this.packet, this.frameSamples);
    if (len < 0) throw new Error(`libopus encode error ${len}`);
    return this.m.HEAPU8.slice(this.packet, this.packet + len);
  }

  /** Decodes one packet to interleaved int16 (a copy); a negative libopus code is thrown. */
  decode(packet: Uint8Array): Int16Array {
    const h = this.live();
    if (packet.byteLength > MAX_PACKET_BYTES) throw new Error(`packet of ${packet.byteLength} bytes exceeds ${MAX_PACKET_BYTES}`);
    this.m.HEAPU8.set(packet, this.packet);
    const n = h._decode(this.packet, packet.byteLength, this.pcmOut);
    if (n < 0) throw new Error(`libopus decode error ${n}`);
    const total = n * this.channels;
    // Views are taken after the call: the WASM memory may have grown and replaced the old ones.
    const slots = this.m.HEAP16.subarray(this.pcmOut >> 1, (this.pcmOut >> 1) + 2 * total);
    const out = new Int16Array(total);
    for (let i = 0; i < total; i++) out[i] = ((slots[2 * i + 1] & 0xff) << 8) | (slots[2 * i] & 0xff);
    return out;
  }

  dispose(): void {
    if (this.handler === undefined) return;
    this.m.OpusScriptHandler.destroy_handler(this.handler);
    this.handler = undefined;
    this.m._free(this.pcmIn);
    this.m._free(this.packet);
    this.m._free(this.pcmOut);
  }

  private live(): NativeHandler {
    if (this.handler === undefined) throw new Error('disposed');
    return this.handler;
  }
}
