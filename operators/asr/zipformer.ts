/**
 * `asr` engine 'zipformer': an icefall/sherpa-onnx streaming zipformer2 transducer (encoder, decoder,
 * joiner; core/models/zipformer2.ts). Audio -> streaming Kaldi fbank (80 bins, povey, 25/10 ms,
 * as sherpa-onnx) -> encoder windows with all states -> greedy or modified beam search. Events as
 * the conformer engine's: partials when the hypothesis changes (greedy ones only grow; beam search may revise),
 * finals after `endpointMs` of frames without a token and at the end of the stream, where the last
 * window is padded with digital silence. A token's time is the start of its 40 ms encoder frame.
 */
import { piecesToText } from '../../kernels/ctc.js';
import { StreamingKaldiFbank } from '../../kernels/fbank.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import { readZipformerConfig, resolveZipformerFiles, ZipformerStream, ZIPFORMER_SUBSAMPLING } from '../../core/models/zipformer2.js';
import { withInfo, type StreamOperator } from '../../core/operator-info.js';
import { SampleClock } from '../../core/sample-clock.js';
import { serialMap } from '../../core/serial-queue.js';
import { checkAudio } from '../audio-checks.js';
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

export function zipformerAsr(options: AsrOptions): StreamOperator<AudioFrame, AsrEvent> {
  const endpointMs = options.endpointMs ?? 600;
  const op = serialMap<AudioFrame, AsrEvent>(async () => {
    const model = await openZipformer(options);
    const { pieces } = model;
    const fbank = new StreamingKaldiFbank({ sampleRate: SAMPLE_RATE, numBins: model.config.featureDim });
    const frameUs = (HOP * ZIPFORMER_SUBSAMPLING * 1e6) / SAMPLE_RATE;
    const endpointFrames = Math.max(1, Math.round((endpointMs * 1000) / frameUs));
    const feats: Float32Array[] = [];
    const keep = (f: Float32Array) => feats.push(f.slice());
    // Model frames -> source time through the samples they start at, honest across dropped frames
    // and gaps; the silence that pads the last window has no time of its own.
    const clock = new SampleClock(SAMPLE_RATE);
    const samplesPerFrame = HOP * ZIPFORMER_SUBSAMPLING;
    let wall = 0;
    // A partial is on screen: a beam search revision to no tokens must say so.
    let shown = false;
    const at = (frame: number) => clock.toUs(Math.min(frame * samplesPerFrame, clock.samples));
    const report = (changed: boolean, emit: (e: AsrEvent) => void) => {
      const h = model.hypothesis;
      if (changed && (h.tokens.length > 0 || shown)) {
        const start = h.tokens.length > 0 ? h.frames[0] : model.framesSeen;
        emit({ type: 'partial', text: piecesToText(pieces, h.tokens), startUs: at(start), endUs: at(model.framesSeen), wallMs: wall });
        shown = h.tokens.length > 0;
      }
      if (h.tokens.length > 0 && model.trailingBlanks >= endpointFrames) final(emit, model.framesSeen - model.trailingBlanks + 1);
    };
    const final = (emit: (e: AsrEvent) => void, endFrame: number) => {
      const f = model.takeFinal();
      shown = false;
      emit({ type: 'final', text: piecesToText(pieces, f.tokens), startUs: at(f.frames[0]), endUs: at(endFrame), wallMs: wall });
      clock.forget(Math.min(endFrame * samplesPerFrame, clock.samples));
    };
    return {
      async step(frame, emit) {
        checkAudio('asr', frame, { sampleRate: SAMPLE_RATE, channels: 1 });
        clock.push(frame.pts, frame.data.length);
        wall = frame.wallMs;
        // Feature frames are collected first (the kernel's callback is synchronous), then stepped in order.
        fbank.push(frame.data, keep);
        for (const f of feats.splice(0)) report(await model.push(f), emit);
      },
      async flush(emit) {
        if (clock.samples === 0) return;
        fbank.flush(keep);
        for (const f of feats.splice(0)) report(await model.push(f), emit);
        report(await model.flush(), emit);
        if (model.hypothesis.tokens.length > 0) final(emit, model.framesSeen);
      },
      teardown() {
        model.dispose();
      },
    };
  }, { name: 'asr', ...options.queue });
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

