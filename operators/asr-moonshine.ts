/**
 * `moonshineAsr`: dictation with Moonshine tiny behind Silero VAD, streamed by LocalAgreement-2.
 * Mono 16 kHz AudioFrames in, AsrEvents (the `asr` operator's type) out.
 *
 * Silero VAD (with the vad operator's hysteresis, kernels/vad-segmenter) cuts the audio into
 * speech segments. While a segment is open, its whole audio so far is re-decoded every
 * `intervalMs` of new audio, and the words are run through LocalAgreement-2:
 *
 * - the words of a hypothesis that follow the committed words are its *tail* (where the committed
 *   words end in the hypothesis is found by alignment, see `tailStart`);
 * - the longest prefix on which the tails of the last two hypotheses agree is *committed*
 *   (words compare case- and punctuation-blind; the newer spelling is kept), except the newest
 *   hypothesis' last word: on audio cut mid-speech it is often a cut word ("respect" for
 *   "respectable") or carries a full stop the speaker has not reached yet;
 * - committed words are never retracted or changed: each later partial and the segment's final
 *   start with them.
 *
 * Re-decodes feed the committed words' tokens to the decoder as a forced prefix (option
 * `forcePrefix`, default on). Greedy decoding reproduces its own output from any prefix of it, so
 * where a free decode would start with the committed words anyway (the usual case) this changes
 * only the cost: one decoder run for the prefix plus one per tentative token, instead of one per
 * token of the whole segment, so a re-decode no longer grows with the segment's words. Where a
 * free decode would differ inside them, the committed words win either way, and the forced decode
 * continues from the words actually shown. The final decode is always free (see below).
 *
 * A `partial` event's text is the committed words followed by the newest hypothesis' uncommitted
 * tail (the tentative words, which the next partial may change). It is emitted when that text
 * changes; startUs is the segment's start and endUs the end of the audio decoded.
 *
 * A `final` is emitted when the segment ends (VAD silence, the `maxSegmentMs` cut, or the end of
 * the stream): the segment's audio is decoded once more in full, and the final text is the
 * committed words followed by the tail of that last decode. So where the full decode disagrees
 * with committed words, the committed words win and only what follows them is taken from it.
 * startUs/endUs are the segment's bounds in the source timeline. A segment that produced no words
 * and no partial gives no final.
 *
 * Bounded work: a segment is cut at `maxSegmentMs` (default 20 s; a final, then a new segment
 * continues at once), so the audio kept, the encoder input and the decoder's token bound
 * (6.5 tokens per second of audio) are bounded however long someone talks. Every decision is
 * taken on sample counts (VAD windows, the re-decode interval), never on wall time, so the events
 * are the same for any chunking of the same input. Model work runs one step at a time through
 * serialMap, off the source's hot path; ONNX Runtime runs it on its own threads.
 */
import { VadSegmenter, type SegmentEvent } from '../kernels/vad-segmenter.js';
import { CausewayError } from '../core/errors.js';
import type { AsrEvent, AudioFrame } from '../core/frames.js';
import { Moonshine, MOONSHINE_SAMPLE_RATE, type MoonshineOptions, type MoonshineTranscript } from '../core/models/moonshine.js';
import { SileroStream } from '../core/models/silero-vad.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { BlockFiller } from '../kernels/rechunker.js';
import { SampleClock } from '../core/sample-clock.js';
import { serialMap, type QueueOptions } from '../core/serial-queue.js';
import { checkAudio } from './audio-checks.js';
import { resolveVad, type VadOptions } from './vad.js';

export interface MoonshineAsrOptions extends MoonshineOptions {
  /** For the `asr` engine dispatch; nothing else is accepted. */
  engine?: 'moonshine';
  /** Audio between re-decodes of the open segment (default 500 ms). */
  intervalMs?: number;
  /**
   * Live partials (default true). false: no re-decodes while a segment is open, one decode per
   * segment for its final (for output nobody watches live, such as a transcript piped to a file:
   * a fifth of the work on long files).
   */
  partials?: boolean;
  /** Longest segment; a longer one gets a final and continues as a new segment (default 20000 ms). */
  maxSegmentMs?: number;
  /** Re-decodes continue the committed words' tokens instead of decoding from scratch (default true). */
  forcePrefix?: boolean;
  /** Speech segmentation (defaults here: minSilenceMs 500, padMs 100; the rest as in `vad`). */
  vad?: Pick<VadOptions, 'startThreshold' | 'endThreshold' | 'minSpeechMs' | 'minSilenceMs' | 'padMs' | 'modelPath'>;
  queue?: Omit<QueueOptions, 'name'>;
  /** Called after every decode (for tests, logs and load figures). */
  onDecode?: (d: MoonshineDecode) => void;
}

/** What one decode produced and cost. */
export interface MoonshineDecode {
  kind: 'partial' | 'final';
  /** This decode's own transcript. */
  hypothesis: string;
  /** Committed words after it (for a final: the final text). */
  committed: string;
  /** Uncommitted tail shown after the committed words (empty for a final). */
  tentative: string;
  audioMs: number;
  encodeMs: number;
  decodeMs: number;
  hitLimit: boolean;
}

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

const join = (ws: readonly Word[]) => ws.map((w) => w.text).join(' ');

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
    return join([...this.committed, ...this.tentative]);
  }

  get committedTokens(): number[] {
    return this.committed.flatMap((w) => [...w.tokens]);
  }

  reset(): void {
    this.committed = [];
    this.tentative = [];
  }
}

/** The most recent audio, addressed by absolute sample index; older audio is dropped as told. */
class AudioTail {
  private readonly buf: Float32Array;
  private base = 0;
  private len = 0;

  constructor(capacity: number) {
    this.buf = new Float32Array(capacity);
  }

  get end(): number {
    return this.base + this.len;
  }

  append(x: Float32Array): void {
    // Sized so that the audio still needed always fits; past that the oldest goes first.
    const over = this.len + x.length - this.buf.length;
    if (over > 0) this.dropBefore(this.base + over);
    this.buf.set(x, this.len);
    this.len += x.length;
  }

  dropBefore(sample: number): void {
    const n = Math.min(this.len, Math.max(0, sample - this.base));
    if (n === 0) return;
    this.buf.copyWithin(0, n, this.len);
    this.base += n;
    this.len -= n;
  }

  /** A copy of [from, to) (clamped to what is kept). */
  slice(from: number, to: number): Float32Array {
    return this.buf.slice(Math.max(from, this.base) - this.base, Math.min(to, this.end) - this.base);
  }
}

function resolve(o: MoonshineAsrOptions) {
  const ms = (v: number) => Math.round((v * MOONSHINE_SAMPLE_RATE) / 1000);
  const intervalMs = o.intervalMs ?? 500;
  const maxSegmentMs = o.maxSegmentMs ?? 20000;
  if (!(intervalMs > 0)) throw new CausewayError('invalid-argument', `moonshineAsr: intervalMs must be positive, got ${intervalMs}`);
  if (!(maxSegmentMs >= 1000)) throw new CausewayError('invalid-argument', `moonshineAsr: maxSegmentMs must be at least 1000, got ${maxSegmentMs}`);
  // Dictation waits longer for the end of a sentence than vad's defaults (500 ms of silence, 100 ms of pad).
  const { window, segmenter } = resolveVad({ ...o.vad, minSilenceMs: o.vad?.minSilenceMs ?? 500, padMs: o.vad?.padMs ?? 100, sampleRate: MOONSHINE_SAMPLE_RATE, maxSpeechMs: maxSegmentMs });
  // A segment starts up to minSpeech + pad (+ a window of rounding) before it is confirmed.
  const preroll = segmenter.minSpeech + segmenter.pad + 2 * window;
  return {
    window,
    interval: ms(intervalMs),
    segmenter,
    preroll,
    capacity: ms(maxSegmentMs) + preroll + 2 * window,
    /** Segments shorter than this that decode to nothing are decoded again padded with silence (`contextPads`). */
    short: ms(1500),
    contextPads: [ms(100), ms(200), ms(300), ms(500)],
  };
}

/** The recogniser and its VAD as moonshineAsr() opens them for a stream (preloadMoonshineAsr the same way). */
async function openModels(options: MoonshineAsrOptions): Promise<{ model: Moonshine; vad: SileroStream }> {
  const model = await Moonshine.open(options);
  try {
    return { model, vad: await SileroStream.open(MOONSHINE_SAMPLE_RATE, { ...options, modelPath: options.vad?.modelPath }) };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Loads what moonshineAsr(options) will use and keeps it loaded until the returned function is called. */
export async function preloadMoonshineAsr(options: MoonshineAsrOptions = {}): Promise<() => void> {
  const { model, vad } = await openModels(options);
  return () => {
    vad.dispose();
    model.dispose();
  };
}

export function moonshineAsr(options: MoonshineAsrOptions = {}): StreamOperator<AudioFrame, AsrEvent> {
  if (options.engine !== undefined && options.engine !== 'moonshine') {
    throw new CausewayError('invalid-argument', `moonshineAsr: engine must be 'moonshine', got '${String(options.engine)}'`);
  }
  const r = resolve(options);
  const name = 'asr-moonshine';
  const op = serialMap<AudioFrame, AsrEvent>(async () => {
    const { model, vad } = await openModels(options);
    const seg = new VadSegmenter(r.segmenter);
    const audio = new AudioTail(r.capacity);
    const la = new LocalAgreement();
    const windows = new BlockFiller(r.window);
    // Sample positions -> source time, honest across dropped frames and gaps.
    const clock = new SampleClock(MOONSHINE_SAMPLE_RATE);
    let wall = 0;
    /** The open segment: its first sample, the end of its last decode, the last partial text. */
    let open: { start: number; decodedTo: number; shown: string } | undefined;
    const toUs = (sample: number) => clock.toUs(sample);

    const forcePrefix = options.forcePrefix ?? true;
    const partials = options.partials ?? true;
    const decode = (from: number, to: number, prefix: readonly number[] = []): Promise<MoonshineTranscript> => model.transcribe(audio.slice(from, to), prefix);
    /**
     * A segment's full decode. Moonshine tiny often returns nothing for well under a second of
     * speech cut tightly by the VAD (measured on LibriVox cuts of 0.35 s: "" for 2 of 8, whose
     * words came back inside 0.1-0.3 s of silence, though not at every length of it), so a short
     * segment that decodes to nothing is decoded again inside silence of each length in turn
     * until words come: it is never dropped for its length alone.
     */
    const decodeFinal = async (from: number, to: number): Promise<MoonshineTranscript> => {
      let t = await decode(from, to);
      if (t.tokens.length > 0 || to - from >= r.short) return t;
      const x = audio.slice(from, to);
      for (const pad of r.contextPads) {
        const padded = new Float32Array(x.length + 2 * pad);
        padded.set(x, pad);
        t = await model.transcribe(padded, []);
        if (t.tokens.length > 0) break;
      }
      return t;
    };
    const wordsOf = (t: MoonshineTranscript) => model.tokenizer.words(t.tokens);
    const report = (kind: 'partial' | 'final', t: MoonshineTranscript, from: number, to: number, committed: string, tentative: string) =>
      options.onDecode?.({ kind, hypothesis: t.text, committed, tentative, audioMs: ((to - from) * 1000) / MOONSHINE_SAMPLE_RATE, encodeMs: t.encodeMs, decodeMs: t.decodeMs, hitLimit: t.hitLimit });

    const redecode = async (emit: (e: AsrEvent) => void) => {
      const s = open!;
      const to = audio.end;
      s.decodedTo = to;
      const t = await decode(s.start, to, forcePrefix ? la.committedTokens : []);
      la.push(wordsOf(t));
      report('partial', t, s.start, to, join(la.committed), join(la.tentative));
      const text = la.text;
      if (text !== s.shown && text !== '') {
        s.shown = text;
        emit({ type: 'partial', text, startUs: toUs(s.start), endUs: toUs(to), wallMs: wall });
      }
    };

    const onSegment = async (e: SegmentEvent, emit: (e: AsrEvent) => void) => {
      if (e.kind === 'start') {
        open = { start: e.start, decodedTo: e.start, shown: '' };
        return;
      }
      const s = open!;
      open = undefined;
      const t = await decodeFinal(e.start, e.end);
      const text = join(la.finish(wordsOf(t)));
      report('final', t, e.start, e.end, text, '');
      if (text !== '' || s.shown !== '') emit({ type: 'final', text, startUs: toUs(e.start), endUs: toUs(e.end), wallMs: wall });
      clock.forget(e.end);
    };

    /** One VAD window: `n` real samples of the block (fewer than a window only at the end of the stream). */
    const runWindow = async (n: number, emit: (e: AsrEvent) => void) => {
      const win = windows.block;
      audio.append(win.subarray(0, n));
      const p = await vad.probability(win);
      const events: SegmentEvent[] = [];
      seg.push(p, (e) => events.push(e));
      for (const e of events) await onSegment(e, emit);
      if (open) audio.dropBefore(open.start);
      else audio.dropBefore(audio.end - r.preroll);
      if (partials && open && audio.end - open.decodedTo >= r.interval) await redecode(emit);
    };

    return {
      async step(frame, emit) {
        checkAudio('moonshineAsr', frame, { sampleRate: MOONSHINE_SAMPLE_RATE, channels: 1 });
        clock.push(frame.pts, frame.data.length);
        wall = frame.wallMs;
        for (const _ of windows.push(frame.data)) await runWindow(r.window, emit);
      },
      async flush(emit) {
        if (clock.samples === 0) return;
        // The model needs a whole window; the padding is silence, and no padded sample is kept as audio.
        const real = windows.takePartial();
        if (real > 0) await runWindow(real, emit);
        const events: SegmentEvent[] = [];
        seg.flush((e) => events.push(e), audio.end);
        for (const e of events) await onSegment(e, emit);
      },
      teardown() {
        vad.dispose();
        model.dispose();
      },
    };
  }, { name, ...options.queue });
  const us = (samples: number) => Math.round((samples * 1e6) / MOONSHINE_SAMPLE_RATE);
  return withInfo(op, {
    name,
    // A final follows the end of speech by minSilence (+ a VAD window); a partial lags the audio by up to one interval.
    latencyUs: us(r.window + Math.max(r.segmenter.minSilence, r.interval)),
    lookaheadUs: 0,
  });
}
