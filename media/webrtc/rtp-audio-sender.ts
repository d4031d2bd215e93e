/**
 * AudioFrames -> Opus 20 ms packets -> RTP, with RTP timestamps taken from the frames' pts on
 * the 48 kHz clock (so silence the pipeline skips shows up as a timestamp jump, as with DTX,
 * rather than as audio played early). werift's sender rewrites SSRC and payload type; sequence
 * numbers and timestamps are ours.
 */
import { randomInt } from 'node:crypto';
import { RtpHeader, RtpPacket } from 'werift';
import { CausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import { OPUS_FRAME_SAMPLES, OPUS_RATE, OpusEncoder } from './opus.js';

export interface RtpAudioSenderOptions {
  /** Channels on the wire; frames are up- or down-mixed to it. */
  readonly channels: 1 | 2;
  readonly bitrate?: number;
  /** Hands a packet to the transport; returns false if it could not be sent (not connected). */
  readonly send: (packet: RtpPacket) => boolean;
}

export interface RtpAudioSenderStats {
  framesOut: number;
  packetsOut: number;
  bytesOut: number;
  packetsOutDropped: number;
  /** Packets whose pts stepped back and were moved forward to keep RTP time monotonic. */
  ptsAdjusted: number;
}

/** A run of samples fed to the encoder with continuous pts. */
interface Segment {
  /** Index of its first sample among all samples fed. */
  readonly start: number;
  /** Its first sample on the 48 kHz clock (pts * 48 kHz). */
  readonly clock: number;
}

const U32 = 2 ** 32;

export function checkSendFrame(frame: AudioFrame): void {
  const why =
    frame?.kind !== 'audio'
      ? 'not an audio frame'
      : frame.sampleRate !== OPUS_RATE
        ? `sampleRate ${frame.sampleRate} Hz, expected 48000 (resample first)`
        : frame.channels !== 1 && frame.channels !== 2
          ? `${frame.channels} channels, expected 1 or 2`
          : !(frame.data instanceof Float32Array) || frame.data.length % frame.channels !== 0
            ? 'data is not whole interleaved float32 samples'
            : !Number.isSafeInteger(frame.pts)
              ? `pts ${frame.pts} is not an integer number of µs`
              : undefined;
  if (why !== undefined) throw new CausewayError('invalid-frame', `sendAudio: ${why}`);
}

export class RtpAudioSender {
  readonly stats: RtpAudioSenderStats = { framesOut: 0, packetsOut: 0, bytesOut: 0, packetsOutDropped: 0, ptsAdjusted: 0 };
  private readonly encoder: OpusEncoder;
  private readonly tsBase = randomInt(0, U32);
  private seq = randomInt(0, 0x10000);
  private fed = 0;
  private packetsEncoded = 0;
  private segments: Segment[] = [];
  private lastClock: number | undefined;
  private disposed = false;

  constructor(private readonly options: RtpAudioSenderOptions) {
    this.encoder = new OpusEncoder(OPUS_RATE, options.channels, options.bitrate !== undefined ? { bitrate: options.bitrate } : {});
  }

  /** Validates (throws 'invalid-frame'), encodes and sends; frames after dispose are ignored. */
  push(frame: AudioFrame): void {
    checkSendFrame(frame);
    if (this.disposed) return;
    const data = mix(frame.data, frame.channels, this.options.channels);
    const samples = data.length / this.options.channels;
    if (samples === 0) return;
    this.stats.framesOut++;
    const clock = Math.round((frame.pts * OPUS_RATE) / 1e6);
    const last = this.segments.at(-1);
    // A new segment only where pts is not the continuation of what came before (±1 sample of rounding).
    if (last === undefined || Math.abs(last.clock + (this.fed - last.start) - clock) > 1) {
      this.segments.push({ start: this.fed, clock });
    }
    this.fed += samples;
    for (const payload of this.encoder.encode(data)) this.sendPacket(payload);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encoder.dispose();
    this.segments = [];
  }

  private sendPacket(payload: Uint8Array): void {
    const first = this.packetsEncoded * OPUS_FRAME_SAMPLES;
    this.packetsEncoded++;
    while (this.segments.length > 1 && this.segments[1].start <= first) this.segments.shift();
    const seg = this.segments[0];
    let clock = seg.clock + (first - seg.start);
    let marker = this.lastClock === undefined;
    if (this.lastClock !== undefined) {
      if (clock < this.lastClock + OPUS_FRAME_SAMPLES) {
        if (clock < this.lastClock + OPUS_FRAME_SAMPLES - 1) this.stats.ptsAdjusted++;
        clock = this.lastClock + OPUS_FRAME_SAMPLES;
      } else if (clock > this.lastClock + OPUS_FRAME_SAMPLES) {
        marker = true; // first packet after a pause: the receiver may resync its playout
      }
    }
    this.lastClock = clock;
    const timestamp = (((this.tsBase + clock) % U32) + U32) % U32;
    const header = new RtpHeader({ sequenceNumber: this.seq, timestamp, marker, payloadType: 0 });
    this.seq = (this.seq + 1) & 0xffff;
    const sent = this.options.send(new RtpPacket(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)));
    if (sent) {
      this.stats.packetsOut++;
      this.stats.bytesOut += payload.byteLength;
    } else this.stats.packetsOutDropped++;
  }
}

/** Interleaved `from`-channel audio as `to` channels: mono is duplicated, stereo averaged. */
function mix(data: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return data;
  const n = data.length / from;
  const out = new Float32Array(n * to);
  if (from === 1) for (let i = 0; i < n; i++) out[2 * i] = out[2 * i + 1] = data[i];
  else for (let i = 0; i < n; i++) out[i] = 0.5 * (data[2 * i] + data[2 * i + 1]);
  return out;
}
