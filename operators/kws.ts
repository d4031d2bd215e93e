/**
 * `kws`: a streaming keyword spotter on mono 16 kHz audio frames -> `keyword` events in the
 * source's timeline. Every 80 ms (1280 samples) one step: openWakeWord's mel front end and
 * Google's speech_embedding as streamified step graphs (core/models/kws.ts: the per-step floor
 * that stands for the window model's per-call clip, the priming with 2 s of silence), then the
 * head over the last N embeddings (models/kws: the 40 command words and "none"), then the
 * detector (kernels/keyword-detector: a threshold, one event per spoken word).
 */
import type { OperatorFunction } from 'rxjs';
import * as ort from 'onnxruntime-node';
import { KeywordDetector } from '../kernels/keyword-detector.js';
import { CausewayError } from '../core/errors.js';
import type { AudioFrame, KeywordEvent } from '../core/frames.js';
import { defaultKwsModel } from '../core/models/default-models.js';
import { KWS_EMBEDDING_SIZE, KWS_EMBEDDING_WINDOW, KWS_HOP, KWS_SAMPLE_RATE, KwsFrontEnd, kwsHeadContract, readKwsHeadConfig, type KwsHeadConfig } from '../core/models/kws.js';
import type { SessionOptions } from '../core/onnx/session.js';
import { acquireModel, type ModelLease } from '../core/onnx/shared-models.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { SampleClock } from '../core/sample-clock.js';
import { serialMap, type QueueOptions } from '../core/serial-queue.js';

export interface KwsOptions extends SessionOptions {
  /** The head (`head.onnx` with its `head.json` beside it; default: the shipped one, models/kws/model). */
  model?: string;
  /** Score at which a word fires (default: head.json's, tuned on training voices). */
  threshold?: number;
  /** The same word fires again only this long after it last fired, and once its score fell below the threshold (default 1000 ms). */
  refractoryMs?: number;
  /** After any event, no other word fires for this long (default 240 ms). */
  holdMs?: number;
  /** The words that may fire (default: every word the head knows). */
  words?: string[];
  /** Input queue while a step runs (default: 64 frames; pauses a file input, drops the oldest of a live one). */
  queue?: Omit<QueueOptions, 'name'>;
  /** Called with each step's scores (one per class of head.json, in order) and the source time its audio ends at. */
  onScores?: (scores: Float32Array, endUs: number) => void;
}

/** Samples one decision reads: N embeddings 80 ms apart, each over 76 mel frames of 512 samples every 160. */
const receptive = (window: number) => (window - 1) * KWS_HOP + (KWS_EMBEDDING_WINDOW - 1) * 160 + 512;

interface KwsModels {
  frontEnd: KwsFrontEnd;
  head: ModelLease;
  config: KwsHeadConfig;
  dispose(): void;
}

/** The models as kws() opens them for a stream; preloadKws opens them the same way (the same cache keys). */
async function openModels(options: KwsOptions): Promise<KwsModels> {
  const path = options.model ?? defaultKwsModel();
  const config = readKwsHeadConfig(path);
  const head = await acquireModel(path, kwsHeadContract(path, config), options);
  let frontEnd: KwsFrontEnd;
  try {
    frontEnd = await KwsFrontEnd.open(options);
  } catch (e) {
    head.release();
    throw e;
  }
  return {
    frontEnd,
    head,
    config,
    dispose() {
      frontEnd.dispose();
      head.release();
    },
  };
}

/**
 * Loads the models kws(options) will use and keeps them loaded until the returned function is
 * called: a server calls it before its first session, so no session loads a model.
 */
export async function preloadKws(options: KwsOptions = {}): Promise<() => void> {
  const m = await openModels(options);
  return () => m.dispose();
}

/** The options with their defaults, in steps (what the detector takes). */
function detectorOptions(o: KwsOptions, c: KwsHeadConfig) {
  const steps = (ms: number) => Math.max(0, Math.round((ms * KWS_SAMPLE_RATE) / 1000 / KWS_HOP));
  return { classes: c.classes, none: c.none, threshold: o.threshold ?? c.threshold, refractorySteps: steps(o.refractoryMs ?? 1000), holdSteps: steps(o.holdMs ?? 240), ...(o.words ? { words: o.words } : {}) };
}

export function kws(options: KwsOptions = {}): StreamOperator<AudioFrame, KeywordEvent> {
  const name = 'kws';
  // The words are checked against the head here when it can be read (else at subscription, where a missing model errors the stream).
  let positiveS = 0.32;
  try {
    const c = readKwsHeadConfig(options.model ?? defaultKwsModel());
    new KeywordDetector(detectorOptions(options, c));
    positiveS = c.labels?.positiveS ?? positiveS;
  } catch (e) {
    if (e instanceof CausewayError) {
      // reported at subscription, by openModels
    } else throw new CausewayError('invalid-argument', `kws: ${(e as Error).message}`);
  }
  const op: OperatorFunction<AudioFrame, KeywordEvent> = serialMap<AudioFrame, KeywordEvent>(async () => {
    const m = await openModels(options);
    const { config: c, frontEnd } = m;
    let detector: KeywordDetector;
    try {
      detector = new KeywordDetector(detectorOptions(options, c));
    } catch (e) {
      m.dispose();
      throw new CausewayError('invalid-argument', `kws: ${(e as Error).message}`);
    }
    const n = c.window;
    // The last N embeddings, oldest first; the priming's to start with.
    const window = new Float32Array(n * KWS_EMBEDDING_SIZE);
    frontEnd.priming.slice(-n).forEach((e, i, all) => window.set(e, (n - all.length + i) * KWS_EMBEDDING_SIZE));
    const dims = [1, n, KWS_EMBEDDING_SIZE];
    const state = m.head.model.newState();
    const clock = new SampleClock(KWS_SAMPLE_RATE);
    const span = receptive(n);
    let lastWall = 0;
    let pushed = 0;
    const steps = async (samples: Float32Array, emit: (e: KeywordEvent) => void, endAt = Infinity) => {
      for (const f of await frontEnd.push(samples)) {
        window.copyWithin(0, KWS_EMBEDDING_SIZE);
        window.set(f.embedding, (n - 1) * KWS_EMBEDDING_SIZE);
        const out = await m.head.model.step({ embeddings: new ort.Tensor('float32', window.slice(), dims) }, state);
        const scores = (out.probs.data as Float32Array).slice();
        out.probs.dispose();
        const end = Math.min(f.end, endAt);
        const endUs = clock.toUs(end);
        options.onScores?.(scores, endUs);
        const d = detector.push(scores);
        if (d) emit({ type: 'keyword', word: d.word, score: d.score, startUs: clock.toUs(Math.max(0, end - span)), endUs, wallMs: lastWall });
        clock.forget(Math.max(0, end - span));
      }
    };
    return {
      async step(frame, emit) {
        if (frame.kind !== 'audio' || frame.channels !== 1 || frame.sampleRate !== KWS_SAMPLE_RATE) {
          throw new CausewayError('invalid-frame', `kws expects mono 16000 Hz audio frames, got ${frame.channels} channel(s) at ${frame.sampleRate} Hz (put resample() and toMono() before kws())`);
        }
        clock.push(frame.pts, frame.data.length);
        lastWall = frame.wallMs;
        pushed += frame.data.length;
        await steps(frame.data, emit);
      },
      async flush(emit) {
        if (pushed === 0) return;
        // The last partial step completed with silence, then the time the head was trained to
        // answer in: a word said at the very end is still heard (its event ends at the input's end).
        const pad = (KWS_HOP - (pushed % KWS_HOP)) % KWS_HOP + Math.ceil((positiveS * KWS_SAMPLE_RATE) / KWS_HOP) * KWS_HOP;
        await steps(new Float32Array(pad), emit, pushed);
      },
      teardown() {
        state.dispose();
        m.dispose();
      },
    };
  }, { name, ...options.queue });
  return withInfo(op, {
    name,
    // A step waits for its 1280 samples; the head was trained to name a word within positiveS after it ends.
    latencyUs: Math.round(((KWS_HOP + positiveS * KWS_SAMPLE_RATE) * 1e6) / KWS_SAMPLE_RATE),
    lookaheadUs: 0,
  });
}
