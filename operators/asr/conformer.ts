/**
 * `asr` engine 'conformer': a NeMo-contract cache-aware encoder with a CTC head. Audio -> streaming
 * log-mel (hop 10 ms, n_mels from the model; Causeway's own or NeMo's featurizer, as the model's
 * `frontend` setting says) -> one encoder step per chunk with its caches ->
 * greedy CTC. A `partial` is emitted whenever the hypothesis grows (greedy CTC never revises a
 * token, so partials only grow); a `final` when `endpointMs` of blank frames follow a non-empty
 * hypothesis, and at the end of the stream. Times are in the source's timeline: a token's time is
 * the start of the mel frame (times the model's subsampling) where CTC emitted it.
 *
 * Tokens come from `tokens.txt` beside the model (sherpa-onnx's format: `piece id` per line); the
 * blank is the piece `<blk>` (NeMo puts it last).
 */
import { CtcGreedyDecoder, piecesToText } from '../../kernels/ctc.js';
import { StreamingLogMel } from '../../kernels/mel.js';
import { StreamingNemoMel } from '../../kernels/nemo-mel.js';
import { CausewayError } from '../../core/errors.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import { CacheAwareStream, readCacheAwareConfig, type CacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { withInfo, type StreamOperator } from '../../core/operator-info.js';
import { SampleClock } from '../../core/sample-clock.js';
import { serialMap } from '../../core/serial-queue.js';
import { checkAudio } from '../audio-checks.js';
import { HOP, SAMPLE_RATE, type AsrOptions } from './options.js';
import { readModelTokens } from './tokens.js';

const N_FFT = 512;

/** The model as conformerAsr() opens it for a stream (preloadConformer opens it the same way). */
function openConformer(modelPath: string, options: AsrOptions): Promise<CacheAwareStream> {
  return CacheAwareStream.open(modelPath, options);
}

/** Loads the model conformerAsr(options) will use and keeps it until the returned function is called. */
export async function preloadConformer(options: AsrOptions): Promise<() => void> {
  if (typeof options.model !== 'string') throw new CausewayError('invalid-argument', "asr: engine 'conformer' takes the step graph's path as `model`");
  readModelTokens(options.model, readCacheAwareConfig(options.model).vocab);
  const s = await openConformer(options.model, options);
  return () => s.dispose();
}

export function conformerAsr(options: AsrOptions): StreamOperator<AudioFrame, AsrEvent> {
  if (typeof options.model !== 'string') throw new CausewayError('invalid-argument', "asr: engine 'conformer' takes the step graph's path as `model`");
  const modelPath = options.model;
  const endpointMs = options.endpointMs ?? 600;
  const op = serialMap<AudioFrame, AsrEvent>(async () => {
    const model = await openConformer(modelPath, options);
    const c = model.config;
    let tokens: { pieces: string[]; blank: number };
    try {
      tokens = readModelTokens(modelPath, c.vocab);
    } catch (e) {
      model.dispose();
      throw e;
    }
    const { pieces, blank } = tokens;
    const mel = melFrontEnd(c);
    const ctc = new CtcGreedyDecoder({ vocab: c.vocab, blank });
    const frameUs = (HOP * c.subsampling * 1e6) / SAMPLE_RATE;
    const endpointFrames = Math.max(1, Math.round((endpointMs * 1000) / frameUs));
    const melFrames: Float32Array[] = [];
    // Model frames -> source time through the samples they start at, honest across dropped frames and gaps.
    const clock = new SampleClock(SAMPLE_RATE);
    const samplesPerFrame = HOP * c.subsampling;
    let wall = 0;
    const at = (frame: number) => clock.toUs(frame * samplesPerFrame);
    const decode = (lp: Float32Array | undefined, emit: (e: AsrEvent) => void) => {
      if (!lp) return;
      const grew = ctc.push(lp) > 0;
      const h = ctc.hypothesis;
      if (grew) {
        emit({ type: 'partial', text: piecesToText(pieces, h.tokens), startUs: at(h.frames[0]), endUs: at(ctc.framesSeen), wallMs: wall });
      }
      if (h.tokens.length > 0 && ctc.trailingBlanks >= endpointFrames) final(emit, ctc.framesSeen - ctc.trailingBlanks + 1);
    };
    const final = (emit: (e: AsrEvent) => void, endFrame: number) => {
      const f = ctc.takeFinal();
      emit({ type: 'final', text: piecesToText(pieces, f.tokens), startUs: at(f.frames[0]), endUs: at(endFrame), wallMs: wall });
      clock.forget(endFrame * samplesPerFrame);
    };
    return {
      async step(frame, emit) {
        checkAudio('asr', frame, { sampleRate: SAMPLE_RATE, channels: 1 });
        clock.push(frame.pts, frame.data.length);
        wall = frame.wallMs;
        mel.push(frame.data, (m) => melFrames.push(m.slice()));
        // Mel frames are collected first (the kernel's callback is synchronous), then stepped in order.
        for (const m of melFrames.splice(0)) decode(await model.push(m), emit);
      },
      async flush(emit) {
        if (clock.samples === 0) return;
        mel.flush((m) => melFrames.push(m.slice()));
        for (const m of melFrames.splice(0)) decode(await model.push(m), emit);
        decode(await model.flush(), emit);
        if (ctc.hypothesis.tokens.length > 0) final(emit, ctc.framesSeen);
      },
      teardown() {
        model.dispose();
      },
    };
  }, { name: 'asr', ...options.queue });
  // The front end's wait for a frame's last sample; a chunk's first frame also waits for the rest
  // of its chunk. Read here only for these figures: a model that cannot be read errors the stream
  // when it is subscribed.
  let latencyUs = 0;
  let lookaheadUs = 0;
  try {
    const c = readCacheAwareConfig(modelPath);
    const fe = melFrontEnd(c);
    lookaheadUs = ((fe instanceof StreamingNemoMel ? fe.lookahead : fe.latency) * 1e6) / SAMPLE_RATE;
    latencyUs = ((c.chunk - 1) * HOP * 1e6) / SAMPLE_RATE;
  } catch {
    // reported at subscription, by CacheAwareStream.open
  }
  return withInfo(op, { name: 'asr', latencyUs: Math.round(latencyUs), lookaheadUs: Math.round(lookaheadUs) });
}

/** The features the model was trained on (its `frontend` setting), one hop of 10 ms per frame. */
function melFrontEnd(c: CacheAwareConfig): StreamingLogMel | StreamingNemoMel {
  if (c.frontend === 'causeway') return new StreamingLogMel({ sampleRate: SAMPLE_RATE, nFft: N_FFT, hop: HOP, nMels: c.nMels });
  return new StreamingNemoMel({ sampleRate: SAMPLE_RATE, hop: HOP, nMels: c.nMels });
}
