/**
 * Opus RTP -> continuous AudioFrames on the RTP timeline.
 *
 * Why our own reorder buffer rather than werift's JitterBufferCallback: in werift 0.25.2, once a
 * gap times out it emits the timed-out packet and the *current* one and jumps past everything
 * buffered in between, so one lost packet loses every packet that arrived while waiting
 * (input 1,2,3,5,6,7,8,9 with a 60 ms latency yields 1,2,3,5,9). Its NACK handler only runs
 * for video. What we need is small: put packets back in sequence order, wait a bounded time for
 * a missing one, then conceal it with Opus PLC. Waiting only happens while a packet is missing,
 * so in-order audio passes with no added delay.
 *
 * Timeline: sample index t = RTP timestamp (unwrapped across the 32-bit wrap) minus the first
 * packet's, so pts = t / 48 kHz and a gap keeps its place. A new SSRC (sender restarted)
 * continues where the old stream ended rather than jumping.
 */
import { audioFrame, samplePts, type AudioFrame } from '../../core/frames.js';
import { OPUS_FRAME_SAMPLES, OPUS_RATE, OpusDecoder, opusPacketSamples } from './opus.js';
import { RtpReorder, type DrainTarget } from './rtp-reorder.js';
import { Unwrapper } from './rtp-unwrap.js';

export interface RtpAudioPacket {
  readonly ssrc: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly payload: Uint8Array;
}

export interface RtpAudioReceiverOptions {
  readonly channels: 1 | 2;
  readonly onFrame: (frame: AudioFrame) => void;
  /** How long a missing packet is waited for, in RTP time and in wall time (default 60 ms). */
  readonly reorderWindowMs?: number;
  /** Gaps up to this long are concealed; longer ones are left as a jump in pts (default 1000 ms). */
  readonly maxConcealMs?: number;
  /**
   * Moves each frame's pts from this receiver's timeline to another (plain RTP: the sender's
   * clock, media/rtp/sender-clock.ts), given the frame's source and the RTP timestamp of its
   * first sample. Default: this receiver's timeline.
   */
  readonly mapPts?: (ssrc: number, rtpTimestamp: number, pts: number, arrivalMs: number) => number;
}

export interface RtpAudioReceiverStats {
  packetsIn: number;
  bytesIn: number;
  framesDecoded: number;
  framesConcealed: number;
  packetsLost: number;
  packetsReordered: number;
  packetsLate: number;
  decodeErrors: number;
  gapsNotConcealed: number;
  resyncs: number;
}

/** Safety bound on held packets for a sender whose timestamps do not advance. */
const MAX_HELD = 64;
/** Packets this far behind the next expected one mean a renumbered stream, not a late packet. */
const MAX_LATE = 100;

interface Held {
  readonly t: number;
  readonly payload: Uint8Array;
  readonly arrivalMs: number;
}

export class RtpAudioReceiver {
  readonly stats: RtpAudioReceiverStats = {
    packetsIn: 0,
    bytesIn: 0,
    framesDecoded: 0,
    framesConcealed: 0,
    packetsLost: 0,
    packetsReordered: 0,
    packetsLate: 0,
    decodeErrors: 0,
    gapsNotConcealed: 0,
    resyncs: 0,
  };
  private readonly decoder: OpusDecoder;
  private readonly windowSamples: number;
  private readonly windowMs: number;
  private readonly maxConcealSamples: number;
  private ssrc: number | undefined;
  private ts = new Unwrapper(32);
  /** Added to the unwrapped RTP timestamp to get t. */
  private tBase = 0;
  /** t of the first sample not yet emitted. */
  private nextT = 0;
  private lastSamples = OPUS_FRAME_SAMPLES;
  private readonly reorder: RtpReorder<Held>;
  private highestHeldT = -Infinity;
  private disposed = false;
  private readonly drainTo: DrainTarget<Held> = {
    emit: (p) => this.emit(p),
    lost: (count) => {
      this.stats.packetsLost += count;
    },
    // A gap is concealed once the packets after it span more than the window.
    overdue: () => this.highestHeldT - this.nextT > this.windowSamples,
    stopped: () => this.disposed,
  };

  constructor(private readonly options: RtpAudioReceiverOptions) {
    this.windowMs = options.reorderWindowMs ?? 60;
    this.reorder = new RtpReorder({ windowMs: this.windowMs, maxHeld: MAX_HELD, maxLate: MAX_LATE, stats: this.stats, onTimeout: () => this.flush() });
    this.windowSamples = Math.round((this.windowMs * OPUS_RATE) / 1000);
    this.maxConcealSamples = Math.round(((options.maxConcealMs ?? 1000) * OPUS_RATE) / 1000);
    this.decoder = new OpusDecoder(OPUS_RATE, options.channels);
  }

  push(packet: RtpAudioPacket, arrivalMs: number): void {
    if (this.disposed) return;
    this.stats.packetsIn++;
    this.stats.bytesIn += packet.payload.byteLength;
    if (packet.ssrc !== this.ssrc) this.startStream(packet);
    // Far behind: the sender restarted its numbering on the same SSRC. Waiting for the old
    // numbers to come back would drop everything it sends, so a new stream starts here.
    const seq = this.reorder.sequence(packet.sequenceNumber, () => this.startStream(packet));
    const t = this.ts.unwrap(packet.timestamp) + this.tBase;
    // A duplicate, or one that arrived after its gap was concealed, is counted late and dropped.
    if (!this.reorder.hold(seq, { t, payload: packet.payload, arrivalMs })) return;
    if (t > this.highestHeldT) this.highestHeldT = t;
    this.drain(this.reorder.overfull);
  }

  /** Emits whatever is held, concealing the gaps (the stream ended or is being closed). */
  flush(): void {
    if (!this.disposed) this.drain(true);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.reorder.dispose();
    this.decoder.dispose();
  }

  private startStream(packet: RtpAudioPacket): void {
    if (this.reorder.started) this.drain(true);
    this.ssrc = packet.ssrc;
    this.reorder.restart();
    this.ts = new Unwrapper(32);
    this.tBase = this.nextT - packet.timestamp;
  }

  /** Emits in sequence order; conceals a missing packet once it is overdue (or when forced). */
  private drain(force: boolean): void {
    this.reorder.drain(force, this.drainTo);
    if (this.reorder.size === 0) this.highestHeldT = -Infinity;
  }

  private emit(p: Held): void {
    const gap = p.t - this.nextT;
    if (gap > 0) {
      if (gap <= this.maxConcealSamples) this.conceal(gap, p.arrivalMs);
      else {
        this.stats.gapsNotConcealed++;
        this.nextT = p.t;
      }
      if (this.disposed) return;
    }
    let pcm: Float32Array;
    try {
      pcm = this.decoder.decode(p.payload);
      this.stats.framesDecoded++;
    } catch {
      this.stats.decodeErrors++;
      this.stats.framesConcealed++;
      pcm = this.decoder.decodeLoss(opusPacketSamples(p.payload) || this.lastSamples);
    }
    const ch = this.options.channels;
    let samples = pcm.length / ch;
    if (samples > 0) this.lastSamples = samples;
    let start = p.t;
    if (p.t < this.nextT) {
      // Overlaps what was already emitted (a sender whose timestamps step back): keep pts monotonic.
      const cut = Math.min(samples, this.nextT - p.t);
      pcm = pcm.slice(cut * ch);
      samples -= cut;
      start = this.nextT;
    }
    if (samples === 0 || this.disposed) return;
    this.nextT = start + samples;
    this.options.onFrame(audioFrame(this.ptsAt(start, p.arrivalMs), OPUS_RATE, ch, pcm, p.arrivalMs));
  }

  private ptsAt(t: number, arrivalMs: number): number {
    const pts = samplePts(0, t, OPUS_RATE);
    if (!this.options.mapPts) return pts;
    // t - tBase is the unwrapped RTP timestamp of the current source; modulo 2^32, the one it sent.
    const rtp = (((t - this.tBase) % 2 ** 32) + 2 ** 32) % 2 ** 32;
    return this.options.mapPts(this.ssrc!, rtp, pts, arrivalMs);
  }

  /** Fills [nextT, nextT + samples) with PLC, one frame per lost-packet duration. */
  private conceal(samples: number, wallMs: number): void {
    const ch = this.options.channels;
    const step = this.lastSamples;
    while (samples > 0 && !this.disposed) {
      const n = Math.min(step, samples);
      const pcm = this.decoder.decodeLoss(n);
      this.stats.framesConcealed++;
      this.options.onFrame(audioFrame(this.ptsAt(this.nextT, wallMs), OPUS_RATE, ch, pcm, wallMs));
      this.nextT += n;
      samples -= n;
    }
  }
}
