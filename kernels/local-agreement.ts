/**
 * LocalAgreement-2 (Machacek et al. 2023, as whisper_streaming uses it): a word is committed
 * once two successive hypotheses of the same audio agree on it. Pure logic over words; the
 * Moonshine operator (operators/asr/moonshine.ts) feeds it each re-decode of an open segment.
 */

/** Comparison key of a word: case and punctuation do not count. */
export function wordKey(w: string): string {
  return w.toLowerCase().replace(/[^\p{L}\p{N}']/gu, '');
}

/** A word of a hypothesis, with the tokens that spell it (empty when only the text is known). */
export interface Word {
  readonly text: string;
  readonly tokens: readonly number[];
}

/** Alignment units of a word: its key, split at hyphens and dashes ("cold-hearted" = "cold hearted"). */
function parts(w: Word): string[] {
  return w.text.split(/[-\u2010-\u2015]+/).map(wordKey).filter((p) => p !== '');
}

/**
 * Where the words after `committed` begin in `hyp`: the word boundary j for which hyp[0, j) is
 * closest to the committed words (edit distance on their parts, see `parts`); ties go to the
 * boundary nearest the committed length, then to the later one. A re-decode may merge, split or
 * change a word inside the committed span ("ill disposed" -> "ill-disposed"); aligning, rather
 * than cutting at committed.length, keeps such a change from repeating or losing the word after it.
 */
export function tailStart(committed: readonly Word[], hyp: readonly Word[]): number {
  const c = committed.flatMap(parts);
  const h: string[] = [];
  /** boundary[k] = number of parts before word k (boundary[hyp.length] = all). */
  const boundary: number[] = [];
  for (const w of hyp) {
    boundary.push(h.length);
    h.push(...parts(w));
  }
  boundary.push(h.length);
  // row[j] = edit distance between c[0, i) and h[0, j), for the current i.
  let row = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= c.length; i++) {
    const next = [i];
    for (let j = 1; j <= h.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (c[i - 1] === h[j - 1] ? 0 : 1));
    row = next;
  }
  let best = 0;
  for (let k = 1; k < boundary.length; k++) {
    const d = row[boundary[k]] - row[boundary[best]];
    const nearer = Math.abs(boundary[k] - c.length) - Math.abs(boundary[best] - c.length);
    if (d < 0 || (d === 0 && nearer <= 0)) best = k;
  }
  return best;
}

/** The words' text, space-separated. */
export const joinWords = (ws: readonly Word[]): string => ws.map((w) => w.text).join(' ');

/** LocalAgreement-2 over successive hypotheses of one segment. */
export class LocalAgreement {
  committed: Word[] = [];
  tentative: Word[] = [];

  /** Feeds the next hypothesis; returns the words it committed. */
  push(hyp: readonly Word[]): Word[] {
    const tail = hyp.slice(tailStart(this.committed, hyp));
    let n = 0;
    while (n < tail.length - 1 && n < this.tentative.length && wordKey(tail[n].text) === wordKey(this.tentative[n].text)) n++;
    const agreed = tail.slice(0, n);
    this.committed.push(...agreed);
    this.tentative = tail.slice(n);
    return agreed;
  }

  /** Final words of the segment from its full decode (committed words kept), then a fresh start. */
  finish(hyp: readonly Word[]): Word[] {
    const out = [...this.committed, ...hyp.slice(tailStart(this.committed, hyp))];
    this.reset();
    return out;
  }

  /** Committed words, then the tentative ones: the text of a partial. */
  get text(): string {
    return joinWords([...this.committed, ...this.tentative]);
  }

  get committedTokens(): number[] {
    return this.committed.flatMap((w) => [...w.tokens]);
  }

  reset(): void {
    this.committed = [];
    this.tentative = [];
  }
}
