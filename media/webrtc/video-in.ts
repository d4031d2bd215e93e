/**
 * The camera path of a peer: VP8 RTP -> RtpVideoReceiver (reorder, frame assembly, loss ->
 * key frame request) -> ffmpeg VP8 decoder (fixed output size) -> VideoFrames. ffmpeg starts on
 * the first video packet, so audio-only sessions never run one; close() kills it.
 */
import { nowMs, type PixelFormat, type VideoFrame } from '../../core/frames.js';
import { FfmpegVp8Decoder } from '../ffmpeg/vp8-decoder.js';
import { RtpVideoReceiver, type RtpVideoPacket } from './rtp-video-receiver.js';
import { VIDEO_CLOCK, isVp8Shown } from './vp8-rtp.js';

export interface VideoInOptions {
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  readonly ffmpegPath?: string;
  readonly onFrame: (frame: VideoFrame) => void;
  /** Sends an RTCP PLI for the stream (already rate-limited). */
  readonly sendPli: () => void;
  /** The decoder's ffmpeg ended on its own; the message says whether video in goes on. */
  readonly onFault?: (message: string) => void;
  /** Moves each frame's pts from the RTP timeline to another (see RtpAudioReceiverOptions.mapPts). */
  readonly mapPts?: (ssrc: number, rtpTimestamp: number, pts: number, arrivalMs: number) => number;
}

interface Tag {
  readonly pts: number;
  readonly wallMs: number;
}

export class VideoIn {
  private readonly receiver: RtpVideoReceiver;
  private readonly decoder: FfmpegVp8Decoder<Tag>;
  pliSent = 0;
  private closed = false;

  constructor(private readonly options: VideoInOptions) {
    this.receiver = new RtpVideoReceiver({
      onFrame: (f) => {
        const rtpPts = Math.round((f.t * 1e6) / VIDEO_CLOCK);
        const pts = options.mapPts ? options.mapPts(f.ssrc, f.rtpTimestamp, rtpPts, f.arrivalMs) : rtpPts;
        this.decoder.decode(f.data, f.keyframe, { pts, wallMs: f.arrivalMs }, isVp8Shown(f.data));
      },
      onKeyframeNeeded: () => {
        if (this.closed) return;
        this.pliSent++;
        options.sendPli();
      },
    });
    this.decoder = new FfmpegVp8Decoder<Tag>({
      width: options.width,
      height: options.height,
      pixelFormat: options.pixelFormat,
      ...(options.ffmpegPath !== undefined ? { ffmpegPath: options.ffmpegPath } : {}),
      onFrame: (data, tag) => {
        if (this.closed) return;
        options.onFrame({ kind: 'video', pts: tag.pts, wallMs: tag.wallMs, width: options.width, height: options.height, format: options.pixelFormat, data });
      },
      // The decoder dropped frames: the receiver asks for a key frame (rate-limited).
      onKeyframeNeeded: () => this.receiver.requestKeyframe(nowMs()),
      onProcessEnded: (message) => {
        if (!this.closed) options.onFault?.(message);
      },
    });
  }

  push(packet: RtpVideoPacket, arrivalMs: number): void {
    if (this.closed) return;
    this.decoder.start();
    this.receiver.push(packet, arrivalMs);
  }

  get decoderPid(): number | undefined {
    return this.decoder.pid;
  }

  stats(): Record<string, number> {
    const r = this.receiver.stats;
    const d = this.decoder.stats;
    return {
      videoPacketsIn: r.packetsIn,
      videoBytesIn: r.bytesIn,
      videoPacketsLost: r.packetsLost,
      videoPacketsReordered: r.packetsReordered,
      videoPacketsLate: r.packetsLate,
      videoFramesIncomplete: r.framesIncomplete,
      videoFramesSkipped: r.framesSkipped,
      videoKeyframesIn: r.keyframesOut,
      videoFramesDecoded: d.framesOut,
      videoDecoderDrops: d.framesDropped,
      videoDecoderRestarts: d.restarts,
      videoDecodeMs: d.decodeMs,
      pliSent: this.pliSent,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiver.dispose();
    await this.decoder.close();
  }
}
