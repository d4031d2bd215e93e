/**
 * `asr`: streaming speech recognition events from mono 16 kHz audio.
 *
 * Engine 'conformer': a NeMo-contract cache-aware encoder with a CTC head. Audio -> streaming
 * log-mel (hop 10 ms, n_mels from the model; Causeway's own or NeMo's featurizer, as the model's
 * `frontend` setting says) -> one encoder step per chunk with its caches ->
 * greedy CTC. A `partial` is emitted whenever the hypothesis grows (greedy CTC never revises a
 * token, so partials only grow); a `final` when `endpointMs` of blank frames follow a non-empty
 * hypothesis, and at the end of the stream. Times are in the source's timeline: a token's time is
 * the start of the mel frame (times the model's subsampling) where CTC emitted it.
 *
 * Tokens come from `tokens.txt` beside the model (sherpa-onnx's format: `piece id` per line); the
 * blank is the piece `<blk>` (NeMo puts it last).
 *
 * Engine 'moonshine': Moonshine tiny (an encoder-decoder, not streaming by itself) made streaming
 * by VAD segments and the LocalAgreement policy, for real-speech dictation: operators/asr-moonshine.ts.
 *
 * Engine 'zipformer': an icefall/sherpa-onnx streaming zipformer2 transducer (encoder, decoder,
 * joiner; core/models/zipformer2.ts). Audio -> streaming Kaldi fbank (80 bins, povey, 25/10 ms,
 * as sherpa-onnx) -> encoder windows with all states -> greedy or modified beam search. Events as
 * above: partials when the hypothesis changes (greedy ones only grow; beam search may revise),
 * finals after `endpointMs` of frames without a token and at the end of the stream, where the last
 * window is padded with digital silence. A token's time is the start of its 40 ms encoder frame.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CtcGreedyDecoder, piecesToText } from '../kernels/ctc.js';
import { StreamingKaldiFbank } from '../kernels/fbank.js';
import { StreamingLogMel } from '../kernels/mel.js';
import { StreamingNemoMel } from '../kernels/nemo-mel.js';
import { CausewayError, ModelError } from '../core/errors.js';
import type { AsrEvent, AudioFrame } from '../core/frames.js';
import { CacheAwareStream, readCacheAwareConfig, type CacheAwareConfig } from '../core/models/nemo-cache-aware.js';
import { readZipformerConfig, resolveZipformerFiles, ZipformerStream, ZIPFORMER_SUBSAMPLING, type ZipformerFiles } from '../core/models/zipformer2.js';
import type { SessionOptions } from '../core/onnx/session.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { SampleClock } from '../core/sample-clock.js';
import { serialMap, type QueueOptions } from '../core/serial-queue.js';
import { moonshineAsr, preloadMoonshineAsr, type MoonshineAsrOptions } from './asr-moonshine.js';
import { checkAudio } from './audio-checks.js';

export type { AsrEvent } from '../core/frames.js';

export interface AsrOptions extends SessionOptions {
  engine: 'conformer' | 'zipformer';
  /**
   * conformer: the step graph (`*.onnx` with its `*.json` settings and `tokens.txt` beside it).
   * zipformer: a directory holding encoder*.onnx, decoder*.onnx, joiner*.onnx and tokens.txt, or their paths.
   */
  model: string | ZipformerFiles;
  /** zipformer: 'greedy' (default) or 'modified-beam'. */
  decoding?: 'greedy' | 'modified-beam';
  /** zipformer, modified-beam: hypotheses kept (default 4). */
  beam?: number;
  /** Blank time after speech that makes a hypothesis final (default 600 ms). */
  endpointMs?: number;
  queue?: Omit<QueueOptions, 'name'>;
}

const SAMPLE_RATE = 16000;
const HOP = 160;
const N_FFT = 512;

export function readTokens(modelPath: string): { pieces: string[]; blank: number } {
  const path = join(dirname(modelPath), 'tokens.txt');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ModelError('model-not-found', `asr model ${modelPath}: no tokens.txt beside it (${path})`);
  }
  const pieces: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) pieces[Number(m[2])] = m[1];
  }
  const blank = pieces.indexOf('<blk>');
  return { pieces, blank: blank >= 0 ? blank : pieces.length - 1 };
}

/** readTokens, checked against the number of outputs of the model whose `tokens.txt` it is (ModelError 'model-contract'). */
export function readModelTokens(modelPath: string, vocab: number, what = 'asr model'): { pieces: string[]; blank: number } {
  const tokens = readTokens(modelPath);
  if (tokens.pieces.length !== vocab) throw new ModelError('model-contract', `${what} ${modelPath}: tokens.txt has ${tokens.pieces.length} pieces, the model ${vocab} outputs`);
  return tokens;
}

/** The conformer and zipformer models as asr() opens them for a stream (preloadAsr opens them the same way). */
function openConformer(modelPath: string, options: AsrOptions): Promise<CacheAwareStream> {
  return CacheAwareStream.open(modelPath, options);
}

function openZipformer(options: AsrOptions): Promise<ZipformerStream> {
  return ZipformerStream.open(options.model, { device: options.device, threads: options.threads, decoding: options.decoding, beam: options.beam });
}

/**
 * Loads the models asr(options) will use (any engine) and keeps them loaded until the returned
 * function is called: a server calls it before its first session, so no session loads a model.
 */
export async function preloadAsr(options: AsrOptions | (MoonshineAsrOptions & { engine: 'moonshine' })): Promise<() => void> {
  if (options.engine === 'moonshine') return preloadMoonshineAsr(options);
  if (options.engine === 'zipformer') {
    const s = await openZipformer(options);
    return () => s.dispose();
  }
  if (options.engine !== 'conformer') throw new CausewayError('invalid-argument', `asr: unknown engine '${String(options.engine)}'`);
  if (typeof options.model !== 'string') throw new CausewayError('invalid-argument', "asr: engine 'conformer' takes the step graph's path as `model`");
  readModelTokens(options.model, readCacheAwareConfig(options.model).vocab);
  const s = await openConformer(options.model, options);
  return () => s.dispose();
}

/** Engine 'moonshine' (real-speech dictation, VAD segments + LocalAgreement): see operators/asr-moonshine.ts. */
export function asr(options: AsrOptions | (MoonshineAsrOptions & { engine: 'moonshine' })): StreamOperator<AudioFrame, AsrEvent> {
  if (options.engine === 'moonshine') return moonshineAsr(options);
  if (options.engine === 'zipformer') return zipformerAsr(options);
  if (options.engine !== 'conformer') throw new CausewayError('invalid-argument', `asr: unknown engine '${String(options.engine)}'`);
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

function zipformerAsr(options: AsrOptions): StreamOperator<AudioFrame, AsrEvent> {
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
