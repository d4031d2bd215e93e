/**
 * Encoded VP8 frames -> RTP: our packetizer, the marker on each frame's last packet, 90 kHz
 * timestamps from the frames' pts (never stepping back), a PictureID per frame. werift's sender
 * rewrites SSRC and payload type; sequence numbers and timestamps are ours.
 */
import { randomInt } from 'node:crypto';
import { RtpHeader, RtpPacket } from 'werift';
import { VIDEO_CLOCK, VP8_MAX_PAYLOAD, packetizeVp8 } from './vp8-rtp.js';

export interface EncodedFrameOut {
  readonly data: Uint8Array;
  /** µs on the session's timeline. */
  readonly pts: number;
}

export interface RtpVideoSenderOptions {
  /** Hands a packet to the transport; false if it could not be sent (not connected). */
  readonly send: (packet: RtpPacket) => boolean;
  readonly maxPayloadBytes?: number;
}

export interface RtpVideoSenderStats {
  framesOut: number;
  packetsOut: number;
  bytesOut: number;
  packetsOutDropped: number;
}

const U32 = 2 ** 32;

export class RtpVideoSender {
  readonly stats: RtpVideoSenderStats = { framesOut: 0, packetsOut: 0, bytesOut: 0, packetsOutDropped: 0 };
  private readonly tsBase = randomInt(0, U32);
  private seq = randomInt(0, 0x10000);
  private pictureId = randomInt(0, 0x8000);
  private lastClock: number | undefined;

  constructor(private readonly options: RtpVideoSenderOptions) {}

  push(frame: EncodedFrameOut): void {
    let clock = Math.round((frame.pts * VIDEO_CLOCK) / 1e6);
    // Frames out of pts order (a restarted encoder, a pipeline that steps back) would make the
    // receiver's playout jump backwards: hold the timestamp instead.
    if (this.lastClock !== undefined && clock < this.lastClock) clock = this.lastClock;
    this.lastClock = clock;
    const timestamp = (((this.tsBase + clock) % U32) + U32) % U32;
    const payloads = packetizeVp8(frame.data, this.pictureId, this.options.maxPayloadBytes ?? VP8_MAX_PAYLOAD);
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    this.stats.framesOut++;
    for (const [i, payload] of payloads.entries()) {
      const header = new RtpHeader({ sequenceNumber: this.seq, timestamp, marker: i === payloads.length - 1, payloadType: 0 });
      this.seq = (this.seq + 1) & 0xffff;
      if (this.options.send(new RtpPacket(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)))) {
        this.stats.packetsOut++;
        this.stats.bytesOut += payload.byteLength;
      } else this.stats.packetsOutDropped++;
    }
  }
}
