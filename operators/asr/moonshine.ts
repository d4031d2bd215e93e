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
import { VadSegmenter, type SegmentEvent } from '../../kernels/vad-segmenter.js';
import { CausewayError } from '../../core/errors.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import { Moonshine, MOONSHINE_SAMPLE_RATE, type MoonshineOptions, type MoonshineTranscript } from '../../core/models/moonshine.js';
import { SileroStream } from '../../core/models/silero-vad.js';
import { withInfo, type StreamOperator } from '../../core/operator-info.js';
import { AudioTail } from '../../kernels/audio-tail.js';
import { joinWords, LocalAgreement, type Word } from '../../kernels/local-agreement.js';
import { BlockFiller } from '../../kernels/rechunker.js';
import { SampleClock } from '../../core/sample-clock.js';
import { serialMap, type QueueOptions } from '../../core/serial-queue.js';
import { checkAudio } from '../audio-checks.js';
import { resolveVad, type VadOptions } from '../vad.js';

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
      report('partial', t, s.start, to, joinWords(la.committed), joinWords(la.tentative));
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
      const text = joinWords(la.finish(wordsOf(t)));
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
