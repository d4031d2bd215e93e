/**
 * VP8 RTP -> whole encoded frames, in order, only ones the decoder can use.
 *
 * The reorder buffer both receivers share (rtp-reorder.ts; werift's jitter buffer loses packets, see
 * rtp-audio-receiver.ts): packets go back in sequence order, a missing one is waited for at
 * most `reorderWindowMs` (werift NACKs video gaps every 5 ms, so a retransmission has that long
 * to arrive), then skipped. A frame is the packets from the one with S=1, PID=0 to the one
 * with the marker bit, all of one RTP timestamp; a frame with any packet missing is dropped.
 *
 * VP8 inter frames reference earlier frames, so after any loss every frame is dropped until
 * the next key frame, and one is asked for (`onKeyframeNeeded`, which the peer turns into an
 * RTCP PLI), again every `keyframeRequestIntervalMs` while still waiting. The stream also has
 * to start at a key frame.
 *
 * Timeline: t = RTP timestamp (unwrapped) minus the first packet's, in 90 kHz ticks; a new SSRC
 * continues one nominal frame after the old stream's last frame.
 */
import { RtpReorder } from './rtp-reorder.js';
import { Unwrapper } from './rtp-unwrap.js';
import { isVp8Keyframe, parseVp8Descriptor } from './vp8-rtp.js';

export interface RtpVideoPacket {
  readonly ssrc: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly marker: boolean;
  readonly payload: Uint8Array;
}

export interface EncodedVideoFrame {
  /** The VP8 frame (descriptors removed). */
  readonly data: Uint8Array;
  readonly keyframe: boolean;
  /** 90 kHz ticks since the first packet of the stream. */
  readonly t: number;
  /** Arrival (ms, nowMs clock) of the frame's last packet. */
  readonly arrivalMs: number;
  /** The source that sent it, and the RTP timestamp it had (for a sender's clock, media/rtp/sender-clock.ts). */
  readonly ssrc: number;
  readonly rtpTimestamp: number;
}

export interface RtpVideoReceiverOptions {
  readonly onFrame: (frame: EncodedVideoFrame) => void;
  /** A key frame is needed (loss, or a stream that did not start with one); rate-limited. */
  readonly onKeyframeNeeded: () => void;
  /** How long a missing packet is waited for (default 100 ms). */
  readonly reorderWindowMs?: number;
  /** Least time between two key frame requests (default 500 ms). */
  readonly keyframeRequestIntervalMs?: number;
}

export interface RtpVideoReceiverStats {
  packetsIn: number;
  bytesIn: number;
  framesOut: number;
  keyframesOut: number;
  /** Frames with a packet missing, or no start, or a malformed descriptor. */
  framesIncomplete: number;
  /** Whole frames dropped because a frame they depend on was lost. */
  framesSkipped: number;
  packetsLost: number;
  packetsReordered: number;
  packetsLate: number;
  badPayloads: number;
  keyframeRequests: number;
  resyncs: number;
}

/** Bound on held packets: a 1080p key frame is a few hundred packets. */
const MAX_HELD = 1024;
/** Far behind the next expected sequence number: the sender renumbered, not a late packet. */
const MAX_LATE = 1000;
/** A frame larger than this is not assembled (a sender that never sets the marker). */
const MAX_FRAME_BYTES = 8 << 20;
/** Where a new SSRC continues: one 30 fps frame after the old stream's last. */
const NOMINAL_FRAME_TICKS = 3000;

interface Held {
  readonly t: number;
  readonly marker: boolean;
  readonly payload: Uint8Array;
  readonly arrivalMs: number;
}

interface Assembly {
  readonly t: number;
  readonly parts: Uint8Array[];
  bytes: number;
  broken: boolean;
}

export class RtpVideoReceiver {
  readonly stats: RtpVideoReceiverStats = {
    packetsIn: 0,
    bytesIn: 0,
    framesOut: 0,
    keyframesOut: 0,
    framesIncomplete: 0,
    framesSkipped: 0,
    packetsLost: 0,
    packetsReordered: 0,
    packetsLate: 0,
    badPayloads: 0,
    keyframeRequests: 0,
    resyncs: 0,
  };
  private readonly windowMs: number;
  private readonly requestIntervalMs: number;
  private ssrc: number | undefined;
  private ts = new Unwrapper(32);
  private tBase = 0;
  private lastT = -NOMINAL_FRAME_TICKS;
  private readonly reorder: RtpReorder<Held>;
  private cur: Assembly | undefined;
  /** Decoding must restart at a key frame (at the start, and after any loss). */
  private needKeyframe = true;
  private lastRequestMs = -Infinity;
  private disposed = false;

  constructor(private readonly options: RtpVideoReceiverOptions) {
    this.windowMs = options.reorderWindowMs ?? 100;
    this.reorder = new RtpReorder({ windowMs: this.windowMs, maxHeld: MAX_HELD, maxLate: MAX_LATE, stats: this.stats, onTimeout: () => this.flush() });
    this.requestIntervalMs = options.keyframeRequestIntervalMs ?? 500;
  }

  push(packet: RtpVideoPacket, arrivalMs: number): void {
    if (this.disposed) return;
    this.stats.packetsIn++;
    this.stats.bytesIn += packet.payload.byteLength;
    if (packet.ssrc !== this.ssrc) this.startStream(packet, arrivalMs);
    const seq = this.reorder.sequence(packet.sequenceNumber, () => this.startStream(packet, arrivalMs));
    const t = this.ts.unwrap(packet.timestamp) + this.tBase;
    // A duplicate (a retransmission no longer needed), or one after its gap was skipped, is counted late and dropped.
    if (!this.reorder.hold(seq, { t, marker: packet.marker, payload: packet.payload, arrivalMs })) return;
    this.drain(this.reorder.overfull, arrivalMs);
  }

  /** Gives up on every missing packet now and assembles what is held (stream end, close). */
  flush(): void {
    if (!this.disposed) this.drain(true, performance.timeOrigin + performance.now());
  }

  /** Asks for a key frame now (rate-limited), e.g. because the decoder dropped frames. */
  requestKeyframe(nowMs: number): void {
    this.needKeyframe = true;
    this.maybeRequest(nowMs);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.reorder.dispose();
    this.cur = undefined;
  }

  private startStream(packet: RtpVideoPacket, nowMs: number): void {
    if (this.reorder.started) this.drain(true, nowMs);
    this.ssrc = packet.ssrc;
    this.reorder.restart();
    this.ts = new Unwrapper(32);
    this.cur = undefined;
    this.needKeyframe = true;
    this.tBase = this.lastT + NOMINAL_FRAME_TICKS - packet.timestamp;
  }

  private drain(force: boolean, nowMs: number): void {
    this.reorder.drain(force, { emit: (p) => this.feed(p), lost: (count) => this.lose(count, nowMs), stopped: () => this.disposed });
  }

  private lose(count: number, nowMs: number): void {
    this.stats.packetsLost += count;
    if (this.cur !== undefined) this.cur.broken = true;
    this.requestKeyframe(nowMs);
  }

  /** One packet, in sequence order, into the frame being assembled. */
  private feed(p: Held): void {
    const d = parseVp8Descriptor(p.payload);
    if (this.cur !== undefined && this.cur.t !== p.t) {
      // The previous frame's last packet (the marker) never came.
      this.drop(this.cur, p.arrivalMs);
      this.cur = undefined;
    }
    if (d === undefined) {
      this.stats.badPayloads++;
      this.cur ??= { t: p.t, parts: [], bytes: 0, broken: true };
      this.cur.broken = true;
    } else if (d.start && d.partitionId === 0) {
      if (this.cur !== undefined) this.drop(this.cur, p.arrivalMs); // a second start at the same timestamp
      this.cur = { t: p.t, parts: [p.payload.subarray(d.size)], bytes: p.payload.length - d.size, broken: false };
    } else if (this.cur === undefined) {
      this.cur = { t: p.t, parts: [], bytes: 0, broken: true }; // its first packet was lost
    } else {
      this.cur.parts.push(p.payload.subarray(d.size));
      this.cur.bytes += p.payload.length - d.size;
      if (this.cur.bytes > MAX_FRAME_BYTES) this.cur.broken = true;
    }
    if (p.marker) {
      const f = this.cur;
      this.cur = undefined;
      if (f.broken) this.drop(f, p.arrivalMs);
      else this.complete(f, p.arrivalMs);
    }
  }

  private drop(f: Assembly, nowMs: number): void {
    this.stats.framesIncomplete++;
    this.lastT = Math.max(this.lastT, f.t);
    this.requestKeyframe(nowMs);
  }

  private complete(f: Assembly, arrivalMs: number): void {
    const data = new Uint8Array(f.bytes);
    let off = 0;
    for (const part of f.parts) {
      data.set(part, off);
      off += part.length;
    }
    this.lastT = Math.max(this.lastT, f.t);
    const keyframe = isVp8Keyframe(data);
    if (!keyframe && this.needKeyframe) {
      this.stats.framesSkipped++;
      this.maybeRequest(arrivalMs);
      return;
    }
    if (keyframe) {
      this.needKeyframe = false;
      this.stats.keyframesOut++;
    }
    this.stats.framesOut++;
    // f.t - tBase is the unwrapped RTP timestamp of the current source; modulo 2^32, the one it sent.
    const rtpTimestamp = (((f.t - this.tBase) % 2 ** 32) + 2 ** 32) % 2 ** 32;
    this.options.onFrame({ data, keyframe, t: f.t, arrivalMs, ssrc: this.ssrc!, rtpTimestamp });
  }

  private maybeRequest(nowMs: number): void {
    if (nowMs - this.lastRequestMs < this.requestIntervalMs) return;
    this.lastRequestMs = nowMs;
    this.stats.keyframeRequests++;
    this.options.onKeyframeNeeded();
  }

}
