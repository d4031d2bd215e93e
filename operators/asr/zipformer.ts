/**
 * `asr` engine 'zipformer': an icefall/sherpa-onnx streaming zipformer2 transducer (encoder, decoder,
 * joiner; core/models/zipformer2.ts). Audio -> streaming Kaldi fbank (80 bins, povey, 25/10 ms,
 * as sherpa-onnx) -> encoder windows with all states -> greedy or modified beam search. Events as
 * the conformer engine's: partials when the hypothesis changes (greedy ones only grow; beam search may revise),
 * finals after `endpointMs` of frames without a token and at the end of the stream, where the last
 * window is padded with digital silence. A token's time is the start of its 40 ms encoder frame.
 */
import { StreamingKaldiFbank } from '../../kernels/fbank.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import { readZipformerConfig, resolveZipformerFiles, ZipformerStream, ZIPFORMER_SUBSAMPLING } from '../../core/models/zipformer2.js';
import { withInfo, type StreamOperator } from '../../core/operator-info.js';
import { hypothesisOperator, type AsrEngineStream } from './hypothesis-operator.js';
import { HOP, SAMPLE_RATE, type AsrOptions } from './options.js';

/** The model as zipformerAsr() opens it for a stream (preloadZipformer opens it the same way). */
function openZipformer(options: AsrOptions): Promise<ZipformerStream> {
  return ZipformerStream.open(options.model, { device: options.device, threads: options.threads, decoding: options.decoding, beam: options.beam });
}

/** Loads the models zipformerAsr(options) will use and keeps them until the returned function is called. */
export async function preloadZipformer(options: AsrOptions): Promise<() => void> {
  const s = await openZipformer(options);
  return () => s.dispose();
}

/** One stream of the zipformer engine, as the shared skeleton (hypothesis-operator.ts) drives it. */
async function openZipformerStream(options: AsrOptions): Promise<AsrEngineStream> {
  const model = await openZipformer(options);
  return {
    features: new StreamingKaldiFbank({ sampleRate: SAMPLE_RATE, numBins: model.config.featureDim }),
    push: (f) => model.push(f),
    flush: () => model.flush(),
    search: model,
    pieces: model.pieces,
    samplesPerFrame: HOP * ZIPFORMER_SUBSAMPLING,
    // The silence that pads the last window has no time of its own.
    clampToAudio: true,
    dispose: () => model.dispose(),
  };
}

export function zipformerAsr(options: AsrOptions): StreamOperator<AudioFrame, AsrEvent> {
  const op = hypothesisOperator(() => openZipformerStream(options), options);
  // A chunk's first frame waits for the rest of the chunk (latency) and for the window's overlap
  // frames plus the fbank's own look-ahead (look-ahead). The metadata is read here only for these
  // figures; a model that cannot be read errors the stream when it is subscribed.
  let latencyUs = 0;
  let lookaheadUs = (new StreamingKaldiFbank({ sampleRate: SAMPLE_RATE }).lookahead * 1e6) / SAMPLE_RATE;
  try {
    const c = readZipformerConfig(resolveZipformerFiles(options.model));
    latencyUs = (c.chunk * HOP * 1e6) / SAMPLE_RATE;
    lookaheadUs += ((c.window - c.chunk) * HOP * 1e6) / SAMPLE_RATE;
  } catch {
    // reported at subscription, by ZipformerStream.open
  }
  return withInfo(op, { name: 'asr', latencyUs: Math.round(latencyUs), lookaheadUs: Math.round(lookaheadUs) });
}

