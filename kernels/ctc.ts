/**
 * CTC greedy decoding, streaming. Each frame's best label is taken; a label is emitted when it is
 * not blank and differs from the previous frame's best label (so "a a" needs a blank between).
 * The only state that crosses chunk boundaries is the previous frame's label, which is why the
 * streaming hypothesis equals the offline one for any chunking and only ever grows: greedy CTC
 * never revises a token, so partial hypotheses are prefixes of the final one.
 *
 * Log-probabilities are row-major [frames x vocab]. Token frame indices are kept for timestamps
 * (frame index x the model's output frame duration), and the count of blank frames at the end
 * is kept for endpointing (a final hypothesis after enough trailing silence).
 */

export interface CtcOptions {
  vocab: number;
  blank: number;
}

export interface CtcResult {
  tokens: number[];
  /** Frame index (from the first frame ever pushed) at which each token was emitted. */
  frames: number[];
}

function argmaxRow(lp: Float32Array, off: number, vocab: number): number {
  let best = 0;
  let bestV = lp[off];
  for (let v = 1; v < vocab; v++) {
    const x = lp[off + v];
    if (x > bestV) {
      bestV = x;
      best = v;
    }
  }
  return best;
}

export class CtcGreedyDecoder {
  private prev = -1;
  private frame = 0;
  private trailing = 0;
  private readonly result: CtcResult = { tokens: [], frames: [] };

  constructor(readonly o: CtcOptions) {
    if (!(o.vocab > 1 && o.blank >= 0 && o.blank < o.vocab)) throw new Error(`CTC: blank ${o.blank} outside vocab ${o.vocab}`);
  }

  /** Decodes `frames` more rows; returns how many tokens were added. */
  push(logprobs: Float32Array, frames = logprobs.length / this.o.vocab): number {
    const { vocab, blank } = this.o;
    if (!Number.isInteger(frames) || logprobs.length < frames * vocab) {
      throw new Error(`CTC: ${logprobs.length} values is not ${frames} frames of ${vocab}`);
    }
    const before = this.result.tokens.length;
    for (let t = 0; t < frames; t++) {
      const best = argmaxRow(logprobs, t * vocab, vocab);
      if (best === blank) this.trailing++;
      else {
        this.trailing = 0;
        if (best !== this.prev) {
          this.result.tokens.push(best);
          this.result.frames.push(this.frame);
        }
      }
      this.prev = best;
      this.frame++;
    }
    return this.result.tokens.length - before;
  }

  /** The hypothesis so far (a prefix of every later one until `takeFinal`). */
  get hypothesis(): Readonly<CtcResult> {
    return this.result;
  }

  /** Blank frames since the last non-blank one: an endpoint when it passes a threshold. */
  get trailingBlanks(): number {
    return this.trailing;
  }

  get framesSeen(): number {
    return this.frame;
  }

  /** Returns the current hypothesis as final and starts a new one; the frame clock goes on. */
  takeFinal(): CtcResult {
    const out = { tokens: this.result.tokens.splice(0), frames: this.result.frames.splice(0) };
    this.prev = -1;
    return out;
  }

  reset(): void {
    this.prev = -1;
    this.frame = 0;
    this.trailing = 0;
    this.result.tokens.length = 0;
    this.result.frames.length = 0;
  }
}

/** Offline reference: the same rule over the whole matrix at once. */
export function ctcGreedyOffline(logprobs: Float32Array, o: CtcOptions): CtcResult {
  const frames = logprobs.length / o.vocab;
  const best: number[] = [];
  for (let t = 0; t < frames; t++) best.push(argmaxRow(logprobs, t * o.vocab, o.vocab));
  const out: CtcResult = { tokens: [], frames: [] };
  best.forEach((b, t) => {
    if (b !== o.blank && (t === 0 || best[t - 1] !== b)) {
      out.tokens.push(b);
      out.frames.push(t);
    }
  });
  return out;
}

/**
 * SentencePiece-style pieces to text: '▁' marks a word start. Pieces like '<unk>' or '<blk>'
 * are skipped.
 */
export function piecesToText(pieces: readonly string[], tokens: readonly number[]): string {
  let s = '';
  for (const t of tokens) {
    const p = pieces[t];
    if (p === undefined || (p.startsWith('<') && p.endsWith('>'))) continue;
    s += p;
  }
  return s.replace(/\u2581/g, ' ').replace(/\s+/g, ' ').trim();
}
