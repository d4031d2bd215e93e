/**
 * Online speech segmentation from per-window speech probabilities, with hysteresis.
 *
 * Times are in samples. A window of probability p covering [t, t + w):
 * - idle:    p >= startThreshold opens a candidate segment at t.
 * - pending: p <  endThreshold drops the candidate (a blip shorter than minSpeech);
 *            once the candidate has lasted minSpeech samples it is confirmed and
 *            `start` is emitted at max(candidate - pad, previous end).
 * - speech:  p <  endThreshold starts (or continues) a silence run at its first window;
 *            p >= startThreshold cancels it; once the silence run has lasted minSilence
 *            samples, `end` is emitted at silenceStart + pad, and segmentation is idle again.
 *            A segment longer than maxSpeech is cut there (end then immediate start).
 * Two thresholds (start above end) keep a probability that hovers around one value from
 * toggling speech on and off. `flush` closes an open segment at the end of the stream.
 */

export interface SegmenterOptions {
  /** Window length in samples (the probabilities' hop). */
  window: number;
  startThreshold: number;
  endThreshold: number;
  minSpeech: number;
  minSilence: number;
  pad: number;
  maxSpeech?: number;
}

export type SegmentEvent = { kind: 'start'; start: number } | { kind: 'end'; start: number; end: number };

type Phase = 'idle' | 'pending' | 'speech';

export class VadSegmenter {
  private phase: Phase = 'idle';
  private candidate = 0;
  private segStart = 0;
  private silenceStart = -1;
  private lastEnd = 0;
  private t = 0;

  constructor(readonly o: SegmenterOptions) {
    if (!(o.startThreshold > o.endThreshold)) throw new Error('startThreshold must be above endThreshold');
    if (o.window <= 0) throw new Error('window must be positive');
  }

  /** Sample time of the next window's start. */
  get position(): number {
    return this.t;
  }

  /** Feed the probability of the next window; at most two events (end + start on a maxSpeech cut). */
  push(p: number, emit: (e: SegmentEvent) => void): void {
    const { window: w, startThreshold, endThreshold, minSpeech, minSilence, pad } = this.o;
    const start = this.t;
    const end = start + w;
    this.t = end;
    switch (this.phase) {
      case 'idle':
        if (p >= startThreshold) {
          this.candidate = start;
          this.phase = 'pending';
          this.confirmIfLong(end, emit, minSpeech, pad);
        }
        break;
      case 'pending':
        if (p < endThreshold) this.phase = 'idle';
        else this.confirmIfLong(end, emit, minSpeech, pad);
        break;
      case 'speech':
        if (p >= startThreshold) this.silenceStart = -1;
        else if (p < endThreshold && this.silenceStart < 0) this.silenceStart = start;
        if (this.silenceStart >= 0 && end - this.silenceStart >= minSilence) {
          const segEnd = Math.min(this.silenceStart + pad, end);
          emit({ kind: 'end', start: this.segStart, end: segEnd });
          this.lastEnd = segEnd;
          this.phase = 'idle';
          this.silenceStart = -1;
        } else if (this.o.maxSpeech !== undefined && end - this.segStart >= this.o.maxSpeech) {
          emit({ kind: 'end', start: this.segStart, end });
          this.lastEnd = end;
          this.segStart = end;
          this.silenceStart = -1;
          emit({ kind: 'start', start: end });
        }
        break;
    }
  }

  private confirmIfLong(end: number, emit: (e: SegmentEvent) => void, minSpeech: number, pad: number): void {
    if (end - this.candidate < minSpeech) return;
    this.segStart = Math.max(this.candidate - pad, this.lastEnd, 0);
    this.phase = 'speech';
    this.silenceStart = -1;
    emit({ kind: 'start', start: this.segStart });
  }

  /** Closes an open segment at `streamEnd` (samples seen, default: end of the last window). */
  flush(emit: (e: SegmentEvent) => void, streamEnd = this.t): void {
    if (this.phase === 'speech') {
      const end = this.silenceStart >= 0 ? Math.min(this.silenceStart + this.o.pad, streamEnd) : streamEnd;
      emit({ kind: 'end', start: this.segStart, end });
      this.lastEnd = end;
    }
    this.phase = 'idle';
    this.silenceStart = -1;
  }

  reset(): void {
    this.phase = 'idle';
    this.silenceStart = -1;
    this.lastEnd = 0;
    this.t = 0;
  }
}

/**
 * Offline reference: the same segmentation over a whole probability sequence. Written as a
 * plain scan over the array (not by calling the class) so the streaming class is checked
 * against an independent statement of the rules.
 */
export function segmentOffline(probs: ArrayLike<number>, o: SegmenterOptions): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const w = o.window;
  let i = 0;
  let lastEnd = 0;
  const n = probs.length;
  while (i < n) {
    if (probs[i] < o.startThreshold) {
      i++;
      continue;
    }
    // candidate at window i: confirmed if no window below endThreshold before it lasts minSpeech
    const cand = i * w;
    let j = i;
    let confirmed = false;
    while (j < n) {
      if (j > i && probs[j] < o.endThreshold) break;
      if ((j + 1) * w - cand >= o.minSpeech) {
        confirmed = true;
        break;
      }
      j++;
    }
    if (!confirmed) {
      i = j < n ? j + 1 : n;
      continue;
    }
    let segStart = Math.max(cand - o.pad, lastEnd, 0);
    let k = j + 1;
    let silence = -1;
    let closed = false;
    while (k < n) {
      const p = probs[k];
      if (p >= o.startThreshold) silence = -1;
      else if (p < o.endThreshold && silence < 0) silence = k * w;
      const end = (k + 1) * w;
      if (silence >= 0 && end - silence >= o.minSilence) {
        const e = Math.min(silence + o.pad, end);
        out.push({ start: segStart, end: e });
        lastEnd = e;
        closed = true;
        k++;
        break;
      }
      if (o.maxSpeech !== undefined && end - segStart >= o.maxSpeech) {
        out.push({ start: segStart, end });
        lastEnd = end;
        segStart = end;
        silence = -1;
      }
      k++;
    }
    if (!closed) {
      const streamEnd = n * w;
      const e = silence >= 0 ? Math.min(silence + o.pad, streamEnd) : streamEnd;
      out.push({ start: segStart, end: e });
      lastEnd = e;
    }
    i = k;
  }
  return out;
}
