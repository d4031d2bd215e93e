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
import { CtcGreedyDecoder } from '../../kernels/ctc.js';
import { StreamingLogMel } from '../../kernels/mel.js';
import { StreamingNemoMel } from '../../kernels/nemo-mel.js';
import { CausewayError } from '../../core/errors.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import { CacheAwareStream, readCacheAwareConfig, type CacheAwareConfig } from '../../core/models/nemo-cache-aware.js';
import { withInfo, type StreamOperator } from '../../core/operator-info.js';
import { hypothesisOperator, type AsrEngineStream } from './hypothesis-operator.js';
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

/** One stream of the conformer engine, as the shared skeleton (hypothesis-operator.ts) drives it. */
async function openConformerStream(modelPath: string, options: AsrOptions): Promise<AsrEngineStream> {
  const model = await openConformer(modelPath, options);
  const c = model.config;
  let tokens: { pieces: string[]; blank: number };
  try {
    tokens = readModelTokens(modelPath, c.vocab);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const ctc = new CtcGreedyDecoder({ vocab: c.vocab, blank: tokens.blank });
  // A step that completes no chunk returns nothing; greedy CTC only grows, so a change is growth.
  const search = (lp: Float32Array | undefined) => (lp ? ctc.push(lp) > 0 : false);
  return {
    features: melFrontEnd(c),
    push: async (m) => search(await model.push(m)),
    flush: async () => search(await model.flush()),
    search: ctc,
    pieces: tokens.pieces,
    samplesPerFrame: HOP * c.subsampling,
    clampToAudio: false,
    dispose: () => model.dispose(),
  };
}

export function conformerAsr(options: AsrOptions): StreamOperator<AudioFrame, AsrEvent> {
  if (typeof options.model !== 'string') throw new CausewayError('invalid-argument', "asr: engine 'conformer' takes the step graph's path as `model`");
  const modelPath = options.model;
  const op = hypothesisOperator(() => openConformerStream(modelPath, options), options);
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
