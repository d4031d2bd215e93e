import { samplePts } from './frames.js';

/**
 * Maps a count of samples processed back to the source's timeline. Operators that count samples
 * (a model's frame index, a segmenter's sample position) must not assume the frames were
 * contiguous: a live queue drops frames when it falls behind, and a source may have gaps. Each
 * frame's pts is checked against the pts its predecessors predict; where they disagree by more
 * than one sample, an anchor (sample index -> pts) is kept, so times after a gap are the times
 * the audio was actually captured, not earlier by the audio that never arrived.
 */
export class SampleClock {
  /** (first sample, its pts), ascending; only where the timeline jumps, plus the first frame. */
  private anchors: { sample: number; pts: number }[] = [];
  private seen = 0;

  constructor(private readonly sampleRate: number) {}

  /** Records a frame of `samples` samples (per channel) starting at `pts` (µs). */
  push(pts: number, samples: number): void {
    const last = this.anchors[this.anchors.length - 1];
    if (!last || Math.abs(pts - this.at(last, this.seen)) > 1e6 / this.sampleRate) this.anchors.push({ sample: this.seen, pts });
    this.seen += samples;
  }

  /** Samples recorded so far. */
  get samples(): number {
    return this.seen;
  }

  /** The source time (µs) of sample `index` (counted from the first sample pushed). */
  toUs(index: number): number {
    let i = this.anchors.length - 1;
    while (i > 0 && this.anchors[i].sample > index) i--;
    return this.at(this.anchors[i], index);
  }

  /** Forgets the anchors only samples before `index` need (nothing later asks for them). */
  forget(index: number): void {
    let drop = 0;
    while (drop + 1 < this.anchors.length && this.anchors[drop + 1].sample <= index) drop++;
    if (drop > 0) this.anchors.splice(0, drop);
  }

  /** Anchors held (for tests: bounded by the gaps since the last `forget`). */
  get anchorCount(): number {
    return this.anchors.length;
  }

  reset(): void {
    this.anchors = [];
    this.seen = 0;
  }

  private at(a: { sample: number; pts: number }, index: number): number {
    return samplePts(a.pts, index - a.sample, this.sampleRate);
  }
}
