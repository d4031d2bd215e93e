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
  private seq = new Unwrapper(16);
  private ts = new Unwrapper(32);
  /** Added to the unwrapped RTP timestamp to get t. */
  private tBase = 0;
  /** Extended sequence number expected next; undefined before the first packet. */
  private nextSeq: number | undefined;
  /** t of the first sample not yet emitted. */
  private nextT = 0;
  private lastSamples = OPUS_FRAME_SAMPLES;
  private readonly held = new Map<number, Held>();
  private highestHeldT = -Infinity;
  private gapTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly options: RtpAudioReceiverOptions) {
    this.windowMs = options.reorderWindowMs ?? 60;
    this.windowSamples = Math.round((this.windowMs * OPUS_RATE) / 1000);
    this.maxConcealSamples = Math.round(((options.maxConcealMs ?? 1000) * OPUS_RATE) / 1000);
    this.decoder = new OpusDecoder(OPUS_RATE, options.channels);
  }

  push(packet: RtpAudioPacket, arrivalMs: number): void {
    if (this.disposed) return;
    this.stats.packetsIn++;
    this.stats.bytesIn += packet.payload.byteLength;
    if (packet.ssrc !== this.ssrc) this.startStream(packet);
    let seq = this.seq.unwrap(packet.sequenceNumber);
    if (this.nextSeq !== undefined && seq < this.nextSeq - MAX_LATE) {
      // Far behind: the sender restarted its numbering on the same SSRC. Waiting for the old
      // numbers to come back would drop everything it sends, so start a new stream here.
      this.stats.resyncs++;
      this.startStream(packet);
      seq = this.seq.unwrap(packet.sequenceNumber);
    }
    const t = this.ts.unwrap(packet.timestamp) + this.tBase;
    if (this.nextSeq === undefined) this.nextSeq = seq;
    if (seq < this.nextSeq || this.held.has(seq)) {
      this.stats.packetsLate++; // duplicate, or arrived after its gap was concealed
      return;
    }
    if (this.held.size > 0 && seq < this.highestHeldSeq()) this.stats.packetsReordered++;
    this.held.set(seq, { t, payload: packet.payload, arrivalMs });
    if (t > this.highestHeldT) this.highestHeldT = t;
    this.drain(this.held.size > MAX_HELD);
  }

  /** Emits whatever is held, concealing the gaps (the stream ended or is being closed). */
  flush(): void {
    if (!this.disposed) this.drain(true);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clearGapTimer();
    this.held.clear();
    this.decoder.dispose();
  }

  private startStream(packet: RtpAudioPacket): void {
    if (this.nextSeq !== undefined) this.drain(true);
    this.ssrc = packet.ssrc;
    this.seq = new Unwrapper(16);
    this.ts = new Unwrapper(32);
    this.nextSeq = undefined;
    this.tBase = this.nextT - packet.timestamp;
  }

  private highestHeldSeq(): number {
    let h = -Infinity;
    for (const s of this.held.keys()) if (s > h) h = s;
    return h;
  }

  /** Emits in sequence order; skips a missing packet once it is overdue (or when forced). */
  private drain(force: boolean): void {
    for (;;) {
      while (this.nextSeq !== undefined && this.held.has(this.nextSeq)) {
        // onFrame runs subscriber code, which may close the peer (and dispose us) mid-drain.
        if (this.disposed) return;
        const p = this.held.get(this.nextSeq)!;
        this.held.delete(this.nextSeq);
        this.nextSeq++;
        this.emit(p);
      }
      if (this.held.size === 0) break;
      const overdue = this.highestHeldT - this.nextT > this.windowSamples;
      if (!force && !overdue) break;
      let first = Infinity;
      for (const s of this.held.keys()) if (s < first) first = s;
      this.stats.packetsLost += first - this.nextSeq!;
      this.nextSeq = first;
    }
    if (this.held.size === 0) {
      this.highestHeldT = -Infinity;
      this.clearGapTimer();
    } else if (this.gapTimer === undefined) {
      // The sender may stop right after a loss: do not hold its last packets forever.
      this.gapTimer = setTimeout(() => {
        this.gapTimer = undefined;
        this.flush();
      }, this.windowMs);
      this.gapTimer.unref();
    }
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
    this.options.onFrame(audioFrame(samplePts(0, start, OPUS_RATE), OPUS_RATE, ch, pcm, p.arrivalMs));
  }

  /** Fills [nextT, nextT + samples) with PLC, one frame per lost-packet duration. */
  private conceal(samples: number, wallMs: number): void {
    const ch = this.options.channels;
    const step = this.lastSamples;
    while (samples > 0 && !this.disposed) {
      const n = Math.min(step, samples);
      const pcm = this.decoder.decodeLoss(n);
      this.stats.framesConcealed++;
      this.options.onFrame(audioFrame(samplePts(0, this.nextT, OPUS_RATE), OPUS_RATE, ch, pcm, wallMs));
      this.nextT += n;
      samples -= n;
    }
  }

  private clearGapTimer(): void {
    if (this.gapTimer !== undefined) clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }
}
