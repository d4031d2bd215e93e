/**
 * The step skeleton the conformer and zipformer engines share: audio -> the engine's feature
 * frames -> its model steps -> a hypothesis of tokens, reported as `partial` events whenever it
 * changes and as a `final` after `endpointMs` of frames without a token and at the end of the
 * stream. Times are in the source's timeline: model frames map to the samples they start at
 * through a SampleClock, honest across dropped frames and gaps.
 */
import type { OperatorFunction } from 'rxjs';
import { piecesToText } from '../../kernels/ctc.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import { SampleClock } from '../../core/sample-clock.js';
import { serialMap, type QueueOptions } from '../../core/serial-queue.js';
import { checkAudio } from '../audio-checks.js';
import { SAMPLE_RATE } from './options.js';

export interface Hypothesis {
  readonly tokens: readonly number[];
  /** The model frame at which each token was emitted. */
  readonly frames: readonly number[];
}

/** What the skeleton reads of an engine's search. */
export interface HypothesisSearch {
  readonly hypothesis: Hypothesis;
  readonly framesSeen: number;
  /** Frames since the last token. */
  readonly trailingBlanks: number;
  /** The hypothesis as final; the search starts a new one, its frame clock goes on. */
  takeFinal(): Hypothesis;
}

/** One stream of an engine: its front end, its model steps and its search, as the skeleton drives them. */
export interface AsrEngineStream {
  /** Feature frames of the audio pushed (the callback is synchronous; the skeleton copies each frame). */
  features: { push(x: Float32Array, emit: (f: Float32Array) => void): void; flush(emit: (f: Float32Array) => void): void };
  /** One feature frame through the model and the search; true when the hypothesis changed. */
  push(feature: Float32Array): Promise<boolean>;
  /** The end of the stream: the model's last, padded step; true when the hypothesis changed. */
  flush(): Promise<boolean>;
  /** The search the steps feed (greedy CTC, a transducer search): read after each step. */
  readonly search: HypothesisSearch;
  /** The vocabulary's pieces, for the text. */
  readonly pieces: readonly string[];
  /** Audio samples per model frame. */
  readonly samplesPerFrame: number;
  /**
   * Whether model frames past the audio (the padding of the last window) are clamped to its end
   * in event times; otherwise they count as audio.
   */
  readonly clampToAudio: boolean;
  dispose(): void;
}

export function hypothesisOperator(
  open: () => Promise<AsrEngineStream>,
  o: { endpointMs?: number; queue?: Omit<QueueOptions, 'name'> },
): OperatorFunction<AudioFrame, AsrEvent> {
  const endpointMs = o.endpointMs ?? 600;
  return serialMap<AudioFrame, AsrEvent>(async () => {
    const e = await open();
    const search = e.search;
    const frameUs = (e.samplesPerFrame * 1e6) / SAMPLE_RATE;
    const endpointFrames = Math.max(1, Math.round((endpointMs * 1000) / frameUs));
    const feats: Float32Array[] = [];
    const keep = (f: Float32Array) => feats.push(f.slice());
    const clock = new SampleClock(SAMPLE_RATE);
    let wall = 0;
    // A partial is on screen: a revision to no tokens (beam search) must say so.
    let shown = false;
    const sampleOf = (frame: number) => (e.clampToAudio ? Math.min(frame * e.samplesPerFrame, clock.samples) : frame * e.samplesPerFrame);
    const at = (frame: number) => clock.toUs(sampleOf(frame));
    const final = (emit: (ev: AsrEvent) => void, endFrame: number) => {
      const f = search.takeFinal();
      shown = false;
      emit({ type: 'final', text: piecesToText(e.pieces, f.tokens), startUs: at(f.frames[0]), endUs: at(endFrame), wallMs: wall });
      clock.forget(sampleOf(endFrame));
    };
    const report = (changed: boolean, emit: (ev: AsrEvent) => void) => {
      const h = search.hypothesis;
      if (changed && (h.tokens.length > 0 || shown)) {
        const start = h.tokens.length > 0 ? h.frames[0] : search.framesSeen;
        emit({ type: 'partial', text: piecesToText(e.pieces, h.tokens), startUs: at(start), endUs: at(search.framesSeen), wallMs: wall });
        shown = h.tokens.length > 0;
      }
      if (h.tokens.length > 0 && search.trailingBlanks >= endpointFrames) final(emit, search.framesSeen - search.trailingBlanks + 1);
    };
    return {
      async step(frame, emit) {
        checkAudio('asr', frame, { sampleRate: SAMPLE_RATE, channels: 1 });
        clock.push(frame.pts, frame.data.length);
        wall = frame.wallMs;
        // Feature frames are collected first (the kernel's callback is synchronous), then stepped in order.
        e.features.push(frame.data, keep);
        for (const f of feats.splice(0)) report(await e.push(f), emit);
      },
      async flush(emit) {
        if (clock.samples === 0) return;
        e.features.flush(keep);
        for (const f of feats.splice(0)) report(await e.push(f), emit);
        report(await e.flush(), emit);
        if (search.hypothesis.tokens.length > 0) final(emit, search.framesSeen);
      },
      teardown() {
        e.dispose();
      },
    };
  }, { name: 'asr', ...o.queue });
}
