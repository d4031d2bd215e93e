/**
 * The returned-video path of a peer: VideoFrames -> ffmpeg VP8 encoder (bounded, drop-oldest)
 * -> RtpVideoSender -> the transceiver. A PLI from the client forces a key frame (an encoder
 * restart, rate-limited: see vp8-encoder.ts). ffmpeg starts on the first frame; close() kills it.
 */
import { PictureLossIndication, RtcpPayloadSpecificFeedback, type RtcpPacket, type RtpPacket } from 'werift';
import type { VideoFrame } from '../../core/frames.js';
import { FfmpegVp8Encoder, checkVideoFrame, type Vp8EncoderOptions } from '../ffmpeg/vp8-encoder.js';
import { RtpVideoSender } from './rtp-video-sender.js';

/** FIR's feedback message type (RFC 5104); werift parses it but does not export the class. */
const FIR_COUNT = 4;

/**
 * Whether an RTCP packet asks the sender of `ssrc` for a key frame (PLI, or FIR naming it).
 * Needed because werift routes such feedback by its *sender* SSRC first: from a sendrecv
 * client (a browser returning its camera) that is the SSRC of the client's own video, so the
 * PLI reaches our receiver's onRtcp and never our sender's onPictureLossIndication.
 */
export function asksForKeyframe(packet: RtcpPacket, ssrc: number): boolean {
  if (packet.type !== RtcpPayloadSpecificFeedback.type) return false;
  const fb = (packet as RtcpPayloadSpecificFeedback).feedback as { count: number; mediaSsrc?: number; fir?: Array<{ ssrc: number }> };
  if (fb.count === PictureLossIndication.count) return fb.mediaSsrc === ssrc;
  if (fb.count === FIR_COUNT) return fb.fir?.some((e) => e.ssrc === ssrc) === true;
  return false;
}

export type VideoOutOptions = Omit<Vp8EncoderOptions, 'onPacket'> & {
  readonly send: (packet: RtpPacket) => boolean;
};

export class VideoOut {
  private readonly encoder: FfmpegVp8Encoder;
  private readonly sender: RtpVideoSender;
  pliReceived = 0;
  private closed = false;

  constructor(options: VideoOutOptions) {
    this.sender = new RtpVideoSender({ send: options.send });
    const { send: _send, ...encoderOptions } = options;
    this.encoder = new FfmpegVp8Encoder({
      ...encoderOptions,
      onPacket: (p) => {
        if (!this.closed) this.sender.push(p);
      },
    });
  }

  /** Validates (throws 'invalid-frame'); ignored after close. */
  push(frame: VideoFrame): void {
    if (this.closed) {
      checkVideoFrame('sendVideo', frame);
      return;
    }
    this.encoder.encode(frame);
  }

  onPictureLoss(): void {
    if (this.closed) return;
    this.pliReceived++;
    this.encoder.forceKeyframe();
  }

  get encoderPid(): number | undefined {
    return this.encoder.pid;
  }

  stats(): Record<string, number> {
    const e = this.encoder.stats;
    const s = this.sender.stats;
    return {
      videoFramesToEncoder: e.framesIn,
      videoFramesEncoded: e.framesOut,
      videoKeyframesOut: e.keyframesOut,
      videoKeyframesForced: e.keyframesForced,
      videoEncoderDrops: e.framesDropped,
      videoEncoderRestarts: e.restarts,
      videoEncodeMs: e.encodeMs,
      videoFramesSent: s.framesOut,
      videoPacketsOut: s.packetsOut,
      videoBytesOut: s.bytesOut,
      videoPacketsOutDropped: s.packetsOutDropped,
      pliReceived: this.pliReceived,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.encoder.close();
  }
}
