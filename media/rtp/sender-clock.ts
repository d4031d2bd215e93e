/**
 * pts on the sender's wallclock, from RTCP sender reports (RFC 3550 section 6.4.1: each SR
 * pairs the sender's NTP time with the RTP timestamp of that instant).
 *
 * What pts means, per input:
 * - A timeline has an origin, a time on the sender's wallclock (µs since the Unix epoch): pts =
 *   sender wallclock of the sample - origin. By default the origin is the sender's time of the
 *   input's first sample, so pts starts at 0 as before; inputs given the same `RtpTimeline`
 *   share it (the first to emit sets it), so the audio and video of one sender line up; an
 *   explicit `originUs: 0` makes pts the sender's absolute wallclock.
 * - The sender's time of a sample: from the latest SR of its SSRC, srNtp + (rtp - srRtp) /
 *   clockRate. Before any SR, estimated: its arrival on our clock, plus how far ahead of ours
 *   the sender's clock was at the last SR any input of the timeline saw (0 if none), then on
 *   the RTP timestamps. A sender that never sends SRs (GStreamer's udpsink, Janus's forwarders)
 *   gets exactly the RTP timeline: pts = µs since the first packet.
 * - The receivers keep their own continuous timeline (RTP timestamps, concealed losses, a new
 *   SSRC continuing where the old one ended); here an offset is added to it. The offset aims at
 *   what the latest SR says only when an SR (the first for an SSRC, or one that disagrees with
 *   the aim by more than STEP_TOLERANCE_US) says so: small disagreements (a sender's SRs are a
 *   ms or so apart from its packets' pacing) leave audio contiguous. A step forward is taken at
 *   once (a gap in pts); a step back is slewed, pts advancing at half the media's pace until it
 *   has caught up, so pts never goes back (an estimate from arrival times is late by the
 *   sender's own latency, so the first SR usually steps back a few tens of ms).
 * - So a new SSRC continues the timeline until its first SR, then moves to the sender's clock (a
 *   restarted sender's real gap returns); an SR that jumps forward leaves a gap in pts; one that
 *   jumps back is caught up with at half pace.
 */

/** SRs that disagree with the offset in use by this much or less leave it alone. */
export const STEP_TOLERANCE_US = 5000;
/** Bound on the SSRCs whose last SR a timeline keeps (a sender has one or two). */
const MAX_SOURCES = 16;

interface Report {
  readonly ntpUs: number;
  readonly rtp: number;
  /** Which report this is, so a mapper applies each one once. */
  readonly serial: number;
}

export class RtpTimeline {
  /** Sender wallclock (µs since the Unix epoch) that pts 0 stands for; set by the first frame when not given. */
  originUs: number | undefined;
  /** The sender's wallclock minus ours at the last SR (µs; includes the network's delay). */
  private aheadUs = 0;
  private readonly reports = new Map<number, Report>();
  private serial = 0;

  constructor(options: { originUs?: number } = {}) {
    this.originUs = options.originUs;
  }

  senderReport(ssrc: number, ntpUs: number, rtpTimestamp: number, arrivalMs: number): void {
    this.reports.delete(ssrc);
    this.reports.set(ssrc, { ntpUs, rtp: rtpTimestamp, serial: ++this.serial });
    if (this.reports.size > MAX_SOURCES) this.reports.delete(this.reports.keys().next().value!);
    this.aheadUs = ntpUs - arrivalMs * 1000;
  }

  report(ssrc: number): Report | undefined {
    return this.reports.get(ssrc);
  }

  /** Our clock (ms, Unix epoch) as the sender's, by the last SR. */
  estimate(arrivalMs: number): number {
    return arrivalMs * 1000 + this.aheadUs;
  }
}

/** A timeline to share between the inputs of one sender (`originUs`: see the file's comment). */
export function rtpTimeline(options: { originUs?: number } = {}): RtpTimeline {
  return new RtpTimeline(options);
}

export interface PtsMapperStats {
  /** Times an SR moved pts' aim (the first for an SSRC, or a disagreement beyond the tolerance). */
  clockSteps: number;
  /** µs taken back by slewing (steps back). */
  clockSlewedUs: number;
}

/** While catching up with a step back, pts advances at this fraction of the media's pace. */
const SLEW_PACE = 0.5;

/** One input's mapping from its receiver's timeline to the timeline's pts. */
export class PtsMapper {
  readonly stats: PtsMapperStats = { clockSteps: 0, clockSlewedUs: 0 };
  private offsetUs = 0;
  /** Where the offset is going (a step back is slewed towards it). */
  private aimUs = 0;
  private started = false;
  private appliedSerial = -1;
  private lastPts = -Infinity;
  private lastReceiverPts = 0;

  constructor(
    readonly timeline: RtpTimeline,
    private readonly clockRate: number,
  ) {}

  /** The pts of a frame the receiver put at `receiverPts`, whose first sample has RTP timestamp `rtp`. */
  pts(ssrc: number, rtp: number, receiverPts: number, arrivalMs: number): number {
    const report = this.timeline.report(ssrc);
    const sender = report !== undefined ? this.senderTime(report, rtp) : this.timeline.estimate(arrivalMs);
    if (!this.started) {
      this.started = true;
      this.timeline.originUs ??= sender - receiverPts;
      this.offsetUs = this.aimUs = sender - this.timeline.originUs - receiverPts;
      this.lastReceiverPts = receiverPts;
      if (report !== undefined) this.appliedSerial = report.serial;
    } else if (report !== undefined && report.serial !== this.appliedSerial) {
      this.appliedSerial = report.serial;
      const target = sender - this.timeline.originUs! - receiverPts;
      if (Math.abs(target - this.aimUs) > STEP_TOLERANCE_US) {
        this.aimUs = target;
        this.stats.clockSteps++;
      }
    }
    if (this.aimUs > this.offsetUs) this.offsetUs = this.aimUs;
    else if (this.aimUs < this.offsetUs) {
      const back = Math.min(this.offsetUs - this.aimUs, (receiverPts - this.lastReceiverPts) * (1 - SLEW_PACE));
      this.offsetUs -= back;
      this.stats.clockSlewedUs += Math.round(back);
    }
    this.lastReceiverPts = receiverPts;
    // The receivers' timelines only go forward; this keeps pts so when they stand still.
    const pts = Math.max(Math.round(receiverPts + this.offsetUs), this.lastPts + 1);
    this.lastPts = pts;
    return pts;
  }

  private senderTime(r: Report, rtp: number): number {
    // The signed 32-bit distance: timestamps wrap, and an SR may come before or after the frame.
    return r.ntpUs + (((rtp - r.rtp) | 0) * 1e6) / this.clockRate;
  }
}
