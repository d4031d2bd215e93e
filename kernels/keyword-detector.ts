/**
 * Keyword events from a keyword spotter's per-step class scores (one row of probabilities a step,
 * one class of which is "no word"). A word fires at the first step where it is the best word and
 * its score reaches the threshold, unless:
 * - the same word fired less than `refractorySteps` steps ago, or has not fallen below the
 *   threshold since it last fired (a word's score stays high for a few steps after it is said:
 *   one spoken word, one event);
 * - any word fired less than `holdSteps` steps ago (two words from one utterance, such as "four"
 *   and "forward", do not both fire).
 */

export interface KeywordDetectorOptions {
  /** The classes of a row of scores, in order. */
  classes: readonly string[];
  /** The class that is no word (never fires). */
  none: string;
  threshold: number;
  refractorySteps: number;
  holdSteps: number;
  /** Words that may fire (default: every class but `none`). */
  words?: readonly string[];
}

export interface KeywordDetection {
  word: string;
  /** The word's class index. */
  index: number;
  score: number;
  /** The step it fired at (counted from 0). */
  step: number;
}

export class KeywordDetector {
  private readonly candidates: number[];
  /** Per class: the step it last fired at, and whether it fell below the threshold since. */
  private readonly last: number[];
  private readonly armed: boolean[];
  private lastAny = -Infinity;
  private t = 0;

  constructor(readonly o: KeywordDetectorOptions) {
    if (!(o.threshold > 0 && o.threshold <= 1)) throw new Error(`threshold must be in (0, 1], got ${o.threshold}`);
    if (!o.classes.includes(o.none)) throw new Error(`the classes have no '${o.none}'`);
    const words = o.words ?? o.classes.filter((c) => c !== o.none);
    for (const w of words) if (!o.classes.includes(w) || w === o.none) throw new Error(`'${w}' is not a word of the classes (${o.classes.filter((c) => c !== o.none).join(', ')})`);
    this.candidates = words.map((w) => o.classes.indexOf(w));
    this.last = o.classes.map(() => -Infinity);
    this.armed = o.classes.map(() => true);
  }

  /** The next step's scores (one per class); the word it fires, if any. */
  push(scores: ArrayLike<number>): KeywordDetection | undefined {
    const step = this.t++;
    const { threshold, refractorySteps, holdSteps } = this.o;
    let best = -1;
    for (const c of this.candidates) if (best < 0 || scores[c] > scores[best]) best = c;
    let fired: KeywordDetection | undefined;
    if (
      best >= 0 &&
      scores[best] >= threshold &&
      this.armed[best] &&
      step - this.last[best] >= refractorySteps &&
      step - this.lastAny >= holdSteps
    ) {
      fired = { word: this.o.classes[best], index: best, score: scores[best], step };
      this.last[best] = step;
      this.lastAny = step;
      this.armed[best] = false;
    }
    for (const c of this.candidates) if (scores[c] < threshold) this.armed[c] = true;
    return fired;
  }

  reset(): void {
    this.last.fill(-Infinity);
    this.armed.fill(true);
    this.lastAny = -Infinity;
    this.t = 0;
  }
}

/** The offline reference: every row of a stream's scores through one detector. */
export function detectKeywordsOffline(rows: readonly ArrayLike<number>[], o: KeywordDetectorOptions): KeywordDetection[] {
  const d = new KeywordDetector(o);
  return rows.map((r) => d.push(r)).filter((x): x is KeywordDetection => x !== undefined);
}
