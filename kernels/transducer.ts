/**
 * Transducer (RNN-T) search, streaming, over joiner logits. The search never calls a model: it
 * says which decoder contexts it needs for the next encoder frame (`contexts()`, each the last
 * `contextSize` token ids of a hypothesis), the caller runs decoder + joiner on them with that
 * frame and hands back the logits (`accept`, row h for context h). So the maths here is plain
 * TypeScript over Float32Array, testable without ONNX, and the model side can batch and cache.
 *
 * Conventions of icefall/sherpa-onnx transducers:
 * - at most one symbol per encoder frame;
 * - the start context is [-1, ..., -1, blank] (the decoder embeds ids < 0 as zeros);
 * - `blank` (0 in icefall models) and `unk` never enter a hypothesis: they advance the frame only;
 * - scores are sums of log-softmax(logits) over frames (blank frames included).
 *
 * Greedy takes each frame's argmax. Modified beam search keeps `beam` hypotheses: per frame every
 * (hypothesis, token) pair scores hypothesis score + log-softmax, the best `beam` pairs survive
 * and pairs that end up with the same tokens merge by log-add (the probability of either path).
 * The reported best is the highest score, or with `lengthNorm` the highest score per context +
 * token count, as sherpa-onnx picks it.
 *
 * A final (`takeFinal`) closes the current hypothesis and starts the next from the best one's
 * last `contextSize` tokens, as sherpa-onnx does at an endpoint: the decoder keeps its history, so
 * greedy finals concatenate to exactly what one long hypothesis would have been.
 */

export interface TransducerOptions {
  vocab: number;
  contextSize: number;
  /** Default 0 (icefall). */
  blank?: number;
  /** Treated like blank when given (sherpa-onnx skips `<unk>`). */
  unk?: number;
}

export interface BeamOptions extends TransducerOptions {
  /** Hypotheses kept per frame (sherpa-onnx's max_active_paths, default 4). */
  beam?: number;
  /** Pick the best by score / (contextSize + tokens) as sherpa-onnx does (default true). */
  lengthNorm?: boolean;
}

export interface TransducerResult {
  tokens: number[];
  /** Encoder frame index (from the first frame ever accepted) at which each token was emitted. */
  frames: number[];
  /** Sum of the log-probabilities of the path (log-added over merged paths in beam search). */
  score: number;
}

export interface TransducerSearch {
  /** Decoder contexts needed for the next frame, one per live hypothesis. */
  contexts(): readonly (readonly number[])[];
  /** Logits for the next frame, row-major [contexts().length x vocab]; true when the best hypothesis's tokens changed. */
  accept(logits: Float32Array): boolean;
  readonly hypothesis: Readonly<TransducerResult>;
  /** Frames since the best hypothesis's last token (or since its start): an endpoint past a threshold. */
  readonly trailingBlanks: number;
  readonly framesSeen: number;
  /** Returns the best hypothesis as final and starts the next from its context; the frame clock goes on. */
  takeFinal(): TransducerResult;
  reset(): void;
}

/** log(sum(exp(row))) of one row, stable. */
export function logSumExp(x: Float32Array, off: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i] > max) max = x[off + i];
  if (max === -Infinity) return max;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[off + i] - max);
  return max + Math.log(s);
}

function logAdd(a: number, b: number): number {
  const m = Math.max(a, b);
  return m === -Infinity ? m : m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

export function startContext(contextSize: number, blank: number): number[] {
  const c = new Array<number>(contextSize).fill(-1);
  c[contextSize - 1] = blank;
  return c;
}

function check(o: TransducerOptions): Required<TransducerOptions> {
  const blank = o.blank ?? 0;
  if (!(Number.isInteger(o.vocab) && o.vocab > 1 && blank >= 0 && blank < o.vocab)) throw new Error(`transducer: blank ${blank} outside vocab ${o.vocab}`);
  if (!(Number.isInteger(o.contextSize) && o.contextSize >= 1)) throw new Error(`transducer: context size ${o.contextSize} must be a positive integer`);
  return { vocab: o.vocab, contextSize: o.contextSize, blank, unk: o.unk ?? blank };
}

function checkRows(logits: Float32Array, rows: number, vocab: number): void {
  if (logits.length !== rows * vocab) throw new Error(`transducer: ${logits.length} logits is not ${rows} rows of ${vocab}`);
}

export class GreedyTransducerSearch implements TransducerSearch {
  private readonly o: Required<TransducerOptions>;
  private context: number[];
  private readonly ctx: number[][];
  private frame = 0;
  private trailing = 0;
  private readonly result: TransducerResult = { tokens: [], frames: [], score: 0 };

  constructor(options: TransducerOptions) {
    this.o = check(options);
    this.context = startContext(this.o.contextSize, this.o.blank);
    this.ctx = [this.context];
  }

  contexts(): readonly (readonly number[])[] {
    return this.ctx;
  }

  accept(logits: Float32Array): boolean {
    const { vocab, blank, unk } = this.o;
    checkRows(logits, 1, vocab);
    let best = 0;
    for (let v = 1; v < vocab; v++) if (logits[v] > logits[best]) best = v;
    this.result.score += logits[best] - logSumExp(logits, 0, vocab);
    const emit = best !== blank && best !== unk;
    if (emit) {
      this.result.tokens.push(best);
      this.result.frames.push(this.frame);
      this.context = [...this.context.slice(1), best];
      this.ctx[0] = this.context;
      this.trailing = 0;
    } else this.trailing++;
    this.frame++;
    return emit;
  }

  get hypothesis(): Readonly<TransducerResult> {
    return this.result;
  }

  get trailingBlanks(): number {
    return this.trailing;
  }

  get framesSeen(): number {
    return this.frame;
  }

  takeFinal(): TransducerResult {
    const out = { tokens: this.result.tokens.splice(0), frames: this.result.frames.splice(0), score: this.result.score };
    this.result.score = 0;
    return out;
  }

  reset(): void {
    this.frame = 0;
    this.trailing = 0;
    this.takeFinal();
    this.context = startContext(this.o.contextSize, this.o.blank);
    this.ctx[0] = this.context;
  }
}

interface Hyp {
  context: number[];
  tokens: number[];
  frames: number[];
  score: number;
  /** Frames since this hypothesis's last token. */
  trailing: number;
  key: string;
}

export class ModifiedBeamSearch implements TransducerSearch {
  private readonly o: Required<TransducerOptions>;
  readonly beam: number;
  private readonly lengthNorm: boolean;
  private hyps: Hyp[] = [];
  private ctx: number[][] = [];
  private bestHyp!: Hyp;
  private frame = 0;
  // Top-k scratch, reused every frame.
  private readonly topScore: Float64Array;
  private readonly topIndex: Int32Array;

  constructor(options: BeamOptions) {
    this.o = check(options);
    this.beam = options.beam ?? 4;
    if (!(Number.isInteger(this.beam) && this.beam >= 1)) throw new Error(`transducer: beam ${options.beam} must be a positive integer`);
    this.lengthNorm = options.lengthNorm ?? true;
    this.topScore = new Float64Array(this.beam);
    this.topIndex = new Int32Array(this.beam);
    this.start(startContext(this.o.contextSize, this.o.blank), 0);
  }

  private start(context: number[], trailing: number): void {
    this.set([{ context, tokens: [], frames: [], score: 0, trailing, key: '' }]);
  }

  private set(hyps: Hyp[]): void {
    this.hyps = hyps;
    this.ctx = hyps.map((h) => h.context);
    const rank = (h: Hyp) => (this.lengthNorm ? h.score / (this.o.contextSize + h.tokens.length) : h.score);
    this.bestHyp = hyps.reduce((a, b) => (rank(b) > rank(a) ? b : a));
  }

  contexts(): readonly (readonly number[])[] {
    return this.ctx;
  }

  accept(logits: Float32Array): boolean {
    const { vocab, blank, unk } = this.o;
    const n = this.hyps.length;
    checkRows(logits, n, vocab);
    // Top `beam` (hypothesis, token) pairs by score; ties keep the lower flat index.
    const k = Math.min(this.beam, n * vocab);
    const top = this.topScore;
    const idx = this.topIndex;
    let filled = 0;
    for (let h = 0; h < n; h++) {
      const base = this.hyps[h].score - logSumExp(logits, h * vocab, vocab);
      for (let v = 0; v < vocab; v++) {
        const s = base + logits[h * vocab + v];
        if (filled === k && s <= top[k - 1]) continue;
        let i = filled < k ? filled++ : k - 1;
        while (i > 0 && top[i - 1] < s) {
          top[i] = top[i - 1];
          idx[i] = idx[i - 1];
          i--;
        }
        top[i] = s;
        idx[i] = h * vocab + v;
      }
    }
    const next = new Map<string, Hyp>();
    for (let i = 0; i < filled; i++) {
      const from = this.hyps[Math.floor(idx[i] / vocab)];
      const token = idx[i] % vocab;
      const emit = token !== blank && token !== unk;
      const key = emit ? `${from.key},${token}` : from.key;
      const seen = next.get(key);
      if (seen) {
        // Same tokens by another path: either may have happened. The first (higher) keeps its timing.
        seen.score = logAdd(seen.score, top[i]);
        continue;
      }
      next.set(
        key,
        emit
          ? { context: [...from.context.slice(1), token], tokens: [...from.tokens, token], frames: [...from.frames, this.frame], score: top[i], trailing: 0, key }
          : { ...from, score: top[i], trailing: from.trailing + 1 },
      );
    }
    const before = this.bestHyp.key;
    this.set([...next.values()]);
    this.frame++;
    return this.bestHyp.key !== before;
  }

  get hypothesis(): Readonly<TransducerResult> {
    return this.bestHyp;
  }

  /** All live hypotheses, best first by raw score (for tests and n-best output). */
  get hypotheses(): readonly Readonly<TransducerResult>[] {
    return [...this.hyps].sort((a, b) => b.score - a.score);
  }

  get trailingBlanks(): number {
    return this.bestHyp.trailing;
  }

  get framesSeen(): number {
    return this.frame;
  }

  takeFinal(): TransducerResult {
    const b = this.bestHyp;
    this.start(b.context, b.trailing);
    return { tokens: b.tokens, frames: b.frames, score: b.score };
  }

  reset(): void {
    this.frame = 0;
    this.start(startContext(this.o.contextSize, this.o.blank), 0);
  }
}
