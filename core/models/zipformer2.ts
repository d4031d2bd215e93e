/**
 * icefall/sherpa-onnx streaming zipformer2 transducers: three ONNX files.
 *
 * - encoder: `x` [N, T, 80] feature frames plus, per layer i, `cached_key_i`,
 *   `cached_nonlin_attn_i`, `cached_val1_i`, `cached_val2_i`, `cached_conv1_i`, `cached_conv2_i`,
 *   then `embed_states` and `processed_lens` (int64); outputs `encoder_out` [N, T', joiner_dim]
 *   and `new_<state>` for every state. All states are StepState of one StepModel.
 * - decoder: `y` [N, context_size] int64 -> `decoder_out` [N, joiner_dim] (stateless).
 * - joiner: `encoder_out`, `decoder_out` [N, joiner_dim] -> `logit` [N, vocab] (stateless, raw).
 *
 * The settings are the encoder's ONNX metadata (model_type "zipformer2", T, decode_chunk_len and
 * comma-separated per-stack lists; see docs/model-contracts.md), context_size/vocab_size in the
 * decoder's and joiner_dim in the joiner's, read with readOnnxMetadata: the state shapes follow
 * from them, so a model is recognised by metadata and checked by names and shapes before a step.
 *
 * Feeding, as sherpa-onnx: windows of T frames, hop decode_chunk_len, so consecutive windows
 * overlap by T - decode_chunk_len frames (13: the subsampling front end's context and the
 * look-ahead of its last conv). The first window starts at frame 0 with no padding.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GreedyTransducerSearch, ModifiedBeamSearch, type TransducerResult, type TransducerSearch } from '../../kernels/transducer.js';
import { CausewayError, ModelError } from '../errors.js';
import type { ModelContract, TensorSpec, StatePair } from '../onnx/contract.js';
import { readOnnxMetadata } from '../onnx/metadata.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { SessionOptions } from '../onnx/session.js';
import type { StepState } from '../onnx/step-model.js';

export interface ZipformerFiles {
  encoder: string;
  decoder: string;
  joiner: string;
  /** Default: tokens.txt beside the encoder. */
  tokens?: string;
}

export interface ZipformerConfig {
  featureDim: number;
  /** Feature frames per encoder step (the window). */
  window: number;
  /** Feature frames the window moves per step (decode_chunk_len). */
  chunk: number;
  /** Per stack. */
  layers: number[];
  dims: number[];
  kernels: number[];
  left: number[];
  queryHeadDims: number[];
  valueHeadDims: number[];
  heads: number[];
  contextSize: number;
  vocab: number;
  joinerDim: number;
}

/** zipformer2 subsamples feature frames 4x (2x in the embedding, 2x at the output): 40 ms frames at a 10 ms hop. */
export const ZIPFORMER_SUBSAMPLING = 4;

/** log(FLT_EPSILON): what kaldi fbank gives for digital silence (dither 0); pads the last window. */
export const FBANK_SILENCE = Math.log(1.1920928955078125e-7);

/**
 * A directory (sherpa-onnx's layout: encoder*.onnx, decoder*.onnx, joiner*.onnx, tokens.txt) or
 * explicit paths. When a directory has both float and `.int8.` files the float one is taken; any
 * other ambiguity is an error listing the candidates.
 */
export function resolveZipformerFiles(model: string | ZipformerFiles): Required<ZipformerFiles> {
  if (typeof model !== 'string') return { ...model, tokens: model.tokens ?? join(dirname(model.encoder), 'tokens.txt') };
  let names: string[];
  try {
    if (!statSync(model).isDirectory()) throw new Error('not a directory');
    names = readdirSync(model);
  } catch (e) {
    throw new ModelError('model-not-found', `zipformer2 model ${model}: needs a directory holding encoder*.onnx, decoder*.onnx, joiner*.onnx and tokens.txt (${(e as Error).message.split('\n')[0]})`);
  }
  const pick = (part: string) => {
    let found = names.filter((n) => n.startsWith(part) && n.endsWith('.onnx'));
    if (found.length > 1) found = found.filter((n) => !n.includes('.int8.'));
    if (found.length !== 1) {
      throw new ModelError(
        'model-not-found',
        found.length === 0
          ? `zipformer2 model ${model}: no ${part}*.onnx in the directory (it has: ${names.join(', ') || 'nothing'})`
          : `zipformer2 model ${model}: several ${part} files (${found.join(', ')}); pass { encoder, decoder, joiner } paths`,
      );
    }
    return join(model, found[0]);
  };
  return { encoder: pick('encoder'), decoder: pick('decoder'), joiner: pick('joiner'), tokens: join(model, 'tokens.txt') };
}

function metaReader(path: string, role: string) {
  const meta = readOnnxMetadata(path);
  const keys = Object.keys(meta);
  const where = `zipformer2 ${role} ${path}`;
  const raw = (k: string): string => {
    if (meta[k] === undefined) {
      throw new ModelError('model-contract', `${where}: metadata has no '${k}' (it has: ${keys.join(', ') || 'no metadata'})`);
    }
    return meta[k];
  };
  const int = (k: string, s = raw(k)): number => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isInteger(v) || v <= 0) throw new ModelError('model-contract', `${where}: metadata '${k}' needs a positive integer, got ${JSON.stringify(s)}`);
    return v;
  };
  const ints = (k: string): number[] => raw(k).split(',').map((s) => int(k, s));
  return { meta, raw, int, ints, where };
}

/** Reads and cross-checks the three files' metadata; errors name the file and the key. */
export function readZipformerConfig(files: Required<ZipformerFiles>, featureDim = 80): ZipformerConfig {
  const e = metaReader(files.encoder, 'encoder');
  const type = e.meta.model_type;
  if (type === undefined) e.raw('model_type');
  if (type !== 'zipformer2') {
    const hint =
      e.meta.cache_last_channel_dim1 !== undefined || /EncDec/.test(type ?? '')
        ? ' (this looks like a NeMo export: use engine "conformer")'
        : type === 'zipformer'
          ? ' (a zipformer v1 export: its states differ; re-export with icefall zipformer/export-onnx-streaming.py)'
          : '';
    throw new ModelError('model-contract', `${e.where}: metadata model_type is ${JSON.stringify(type)}, expected "zipformer2"${hint}`);
  }
  const layers = e.ints('num_encoder_layers');
  const c: ZipformerConfig = {
    featureDim,
    window: e.int('T'),
    chunk: e.int('decode_chunk_len'),
    layers,
    dims: e.ints('encoder_dims'),
    kernels: e.ints('cnn_module_kernels'),
    left: e.ints('left_context_len'),
    queryHeadDims: e.ints('query_head_dims'),
    valueHeadDims: e.ints('value_head_dims'),
    heads: e.ints('num_heads'),
    contextSize: 0,
    vocab: 0,
    joinerDim: 0,
  };
  for (const k of ['dims', 'kernels', 'left', 'queryHeadDims', 'valueHeadDims', 'heads'] as const) {
    if (c[k].length !== layers.length) {
      throw new ModelError('model-contract', `${e.where}: metadata lists ${layers.length} stacks in num_encoder_layers but ${c[k].length} in ${k}`);
    }
  }
  if (c.window <= c.chunk || c.chunk % ZIPFORMER_SUBSAMPLING !== 0) {
    throw new ModelError('model-contract', `${e.where}: metadata T=${c.window}, decode_chunk_len=${c.chunk}: expected T > decode_chunk_len and decode_chunk_len a multiple of ${ZIPFORMER_SUBSAMPLING}`);
  }
  const d = metaReader(files.decoder, 'decoder');
  c.contextSize = d.int('context_size');
  c.vocab = d.int('vocab_size');
  c.joinerDim = metaReader(files.joiner, 'joiner').int('joiner_dim');
  return c;
}

export function zipformerEncoderContract(c: ZipformerConfig): ModelContract {
  const states: TensorSpec[] = [];
  let i = 0;
  c.layers.forEach((n, s) => {
    const L = c.left[s];
    const d = c.dims[s];
    const key = c.queryHeadDims[s] * c.heads[s];
    const val = c.valueHeadDims[s] * c.heads[s];
    const conv = Math.floor(c.kernels[s] / 2);
    // Batch on axis 1 for the attention caches, on axis 0 for the rest (as exported).
    for (let j = 0; j < n; j++, i++) {
      states.push(
        { name: `cached_key_${i}`, dtype: 'float32', shape: [L, 'N', key] },
        { name: `cached_nonlin_attn_${i}`, dtype: 'float32', shape: [1, 'N', L, (3 * d) / 4] },
        { name: `cached_val1_${i}`, dtype: 'float32', shape: [L, 'N', val] },
        { name: `cached_val2_${i}`, dtype: 'float32', shape: [L, 'N', val] },
        { name: `cached_conv1_${i}`, dtype: 'float32', shape: ['N', d, conv] },
        { name: `cached_conv2_${i}`, dtype: 'float32', shape: ['N', d, conv] },
      );
    }
  });
  // The embedding's cached left frames: 128 channels, 3 frames, the features after two (k=3, s=2) convs.
  const freq = Math.floor((Math.floor((c.featureDim - 1) / 2) - 1) / 2);
  states.push({ name: 'embed_states', dtype: 'float32', shape: ['N', 128, 3, freq] }, { name: 'processed_lens', dtype: 'int64', shape: ['N'] });
  const pairs: StatePair[] = states.map((s) => ({ input: s.name, output: `new_${s.name}`, initialShape: s.shape.map((d) => (d === 'N' ? 1 : (d as number))) }));
  return {
    name: 'zipformer2 encoder',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', c.window, c.featureDim] }, ...states],
    outputs: [{ name: 'encoder_out', dtype: 'float32', shape: ['N', 'T_out', c.joinerDim] }, ...states.map((s) => ({ ...s, name: `new_${s.name}` }))],
    state: pairs,
  };
}

export function zipformerDecoderContract(c: ZipformerConfig): ModelContract {
  return {
    name: 'zipformer2 decoder',
    inputs: [{ name: 'y', dtype: 'int64', shape: ['N', c.contextSize] }],
    outputs: [{ name: 'decoder_out', dtype: 'float32', shape: ['N', c.joinerDim] }],
    state: [],
  };
}

export function zipformerJoinerContract(c: ZipformerConfig): ModelContract {
  return {
    name: 'zipformer2 joiner',
    inputs: [
      { name: 'encoder_out', dtype: 'float32', shape: ['N', c.joinerDim] },
      { name: 'decoder_out', dtype: 'float32', shape: ['N', c.joinerDim] },
    ],
    outputs: [{ name: 'logit', dtype: 'float32', shape: ['N', c.vocab] }],
    state: [],
  };
}

export interface ZipformerEncoderOptions extends SessionOptions {
  /** Feature bins per frame (default 80, as every published model). */
  featureDim?: number;
  /** Feature value that pads the last window at flush (default FBANK_SILENCE). */
  padValue?: number;
}

/** One stream through a shared zipformer2 encoder: feature frames in, encoder frames out. */
export class ZipformerEncoderStream {
  /** Frame-major [window, featureDim], as `x` wants it; holds frames from the current window start on. */
  private readonly buffer: Float32Array;
  private fill = 0;
  private readonly state: StepState;
  private readonly padValue: number;

  private constructor(
    private readonly lease: ModelLease,
    readonly config: ZipformerConfig,
    options: ZipformerEncoderOptions,
  ) {
    this.buffer = new Float32Array(config.window * config.featureDim);
    this.state = lease.model.newState();
    this.padValue = options.padValue ?? FBANK_SILENCE;
  }

  /** Opens the encoder of `files` with `config` read from all three (see readZipformerConfig). */
  static async open(files: Required<ZipformerFiles>, config: ZipformerConfig, options: ZipformerEncoderOptions = {}): Promise<ZipformerEncoderStream> {
    const lease = await acquireModel(files.encoder, zipformerEncoderContract(config), options);
    return new ZipformerEncoderStream(lease, config, options);
  }

  /** Feeds one feature frame; resolves with the encoder frames (row-major [chunk/4, joinerDim]) a completed window produced, or none. */
  async push(frame: Float32Array): Promise<Float32Array | undefined> {
    const { featureDim, window } = this.config;
    if (frame.length !== featureDim) throw new CausewayError('invalid-frame', `zipformer2 encoder wants ${featureDim} feature values per frame, got ${frame.length}`);
    this.buffer.set(frame, this.fill * featureDim);
    this.fill++;
    return this.fill === window ? this.step() : undefined;
  }

  /**
   * Runs the frames not yet at the centre of a window (the last fill frames: the previous window
   * only looked ahead into them) through windows padded with `padValue`: the stream's end.
   */
  async flush(): Promise<Float32Array | undefined> {
    const out: Float32Array[] = [];
    const { featureDim, window } = this.config;
    while (this.fill > 0) {
      const real = this.fill;
      this.buffer.fill(this.padValue, real * featureDim);
      this.fill = window;
      out.push(await this.step());
      this.fill = Math.max(0, real - this.config.chunk);
    }
    if (out.length <= 1) return out[0];
    const all = new Float32Array(out.reduce((a, o) => a + o.length, 0));
    out.reduce((at, o) => (all.set(o, at), at + o.length), 0);
    return all;
  }

  private async step(): Promise<Float32Array> {
    const { featureDim, window, chunk, joinerDim } = this.config;
    // The buffer itself is fed: it is only changed again after the step has resolved.
    const out = await this.lease.model.step({ x: new ort.Tensor('float32', this.buffer, [1, window, featureDim]) }, this.state);
    const enc = out.encoder_out;
    if (enc.dims[1] * ZIPFORMER_SUBSAMPLING !== chunk || enc.dims[2] !== joinerDim) {
      throw new ModelError('model-contract', `zipformer2 encoder ${this.lease.model.path}: encoder_out is [${enc.dims.join(', ')}] for a window of ${window}, expected [1, ${chunk / ZIPFORMER_SUBSAMPLING}, ${joinerDim}]`);
    }
    // The next window starts `chunk` frames on: keep the overlap.
    this.buffer.copyWithin(0, chunk * featureDim, window * featureDim);
    this.fill = window - chunk;
    return enc.data as Float32Array;
  }

  reset(): void {
    this.fill = 0;
    this.state.reset();
  }

  dispose(): void {
    this.state.dispose();
    this.lease.release();
  }
}

/** tokens.txt (`piece id` per line, sherpa-onnx/icefall format). */
export function readZipformerTokens(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ModelError('model-not-found', `zipformer2 tokens ${path} cannot be read`);
  }
  const pieces: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) pieces[Number(m[2])] = m[1];
  }
  return pieces;
}

export interface ZipformerOptions extends ZipformerEncoderOptions {
  decoding?: 'greedy' | 'modified-beam';
  /** Hypotheses kept by modified beam search (default 4). */
  beam?: number;
  /** Modified beam search: best by length-normalised score, as sherpa-onnx (default true). */
  lengthNorm?: boolean;
}

/** Decoder outputs kept per stream, by context: a frame's hypotheses mostly share contexts with the previous frame's. */
const DECODER_CACHE = 64;

/** One stream through a zipformer2 transducer: feature frames in, a growing hypothesis out. */
export class ZipformerStream {
  private readonly decoderState: StepState;
  private readonly joinerState: StepState;
  private readonly cache = new Map<string, Float32Array>();

  private constructor(
    private readonly encoder: ZipformerEncoderStream,
    private readonly decoder: ModelLease,
    private readonly joiner: ModelLease,
    private readonly search: TransducerSearch,
    readonly config: ZipformerConfig,
    /** Token pieces by id (tokens.txt). */
    readonly pieces: readonly string[],
  ) {
    this.decoderState = decoder.model.newState();
    this.joinerState = joiner.model.newState();
  }

  static async open(model: string | ZipformerFiles, options: ZipformerOptions = {}): Promise<ZipformerStream> {
    const files = resolveZipformerFiles(model);
    const config = readZipformerConfig(files, options.featureDim);
    const pieces = readZipformerTokens(files.tokens);
    if (pieces.length !== config.vocab) {
      throw new ModelError('model-contract', `zipformer2 tokens ${files.tokens} has ${pieces.length} pieces, the decoder's vocab_size is ${config.vocab}`);
    }
    const unk = pieces.indexOf('<unk>');
    const o = { vocab: config.vocab, contextSize: config.contextSize, blank: 0, ...(unk > 0 ? { unk } : {}) };
    const decoding = options.decoding ?? 'greedy';
    if (decoding !== 'greedy' && decoding !== 'modified-beam') throw new CausewayError('invalid-argument', `zipformer2: unknown decoding '${String(decoding)}' (greedy or modified-beam)`);
    const search = decoding === 'greedy' ? new GreedyTransducerSearch(o) : new ModifiedBeamSearch({ ...o, beam: options.beam, lengthNorm: options.lengthNorm });
    const leases: { release(): void }[] = [];
    try {
      const encoder = await ZipformerEncoderStream.open(files, config, options);
      leases.push({ release: () => encoder.dispose() });
      const decoder = await acquireModel(files.decoder, zipformerDecoderContract(config), options);
      leases.push(decoder);
      const joiner = await acquireModel(files.joiner, zipformerJoinerContract(config), options);
      return new ZipformerStream(encoder, decoder, joiner, search, config, pieces);
    } catch (e) {
      for (const l of leases) l.release();
      throw e;
    }
  }

  /** Feeds one feature frame; resolves true when the (best) hypothesis changed. Greedy hypotheses only grow. */
  async push(frame: Float32Array): Promise<boolean> {
    return this.decode(await this.encoder.push(frame));
  }

  /** Runs the rest of the stream (see ZipformerEncoderStream.flush); resolves true when the hypothesis changed. */
  async flush(): Promise<boolean> {
    return this.decode(await this.encoder.flush());
  }

  get hypothesis(): Readonly<TransducerResult> {
    return this.search.hypothesis;
  }

  /** Encoder frames since the best hypothesis's last token. */
  get trailingBlanks(): number {
    return this.search.trailingBlanks;
  }

  /** Encoder frames decoded (40 ms each). */
  get framesSeen(): number {
    return this.search.framesSeen;
  }

  /** Closes the hypothesis as final; the next one starts from its last tokens (see kernels/transducer.ts). */
  takeFinal(): TransducerResult {
    return this.search.takeFinal();
  }

  private async decode(frames: Float32Array | undefined): Promise<boolean> {
    if (!frames) return false;
    const J = this.config.joinerDim;
    let changed = false;
    for (let t = 0; t * J < frames.length; t++) {
      const contexts = this.search.contexts();
      const dec = await this.decoderOut(contexts);
      const enc = new Float32Array(contexts.length * J);
      for (let h = 0; h < contexts.length; h++) enc.set(frames.subarray(t * J, (t + 1) * J), h * J);
      const out = await this.joiner.model.step(
        {
          encoder_out: new ort.Tensor('float32', enc, [contexts.length, J]),
          decoder_out: new ort.Tensor('float32', dec, [contexts.length, J]),
        },
        this.joinerState,
      );
      if (this.search.accept(out.logit.data as Float32Array)) changed = true;
    }
    return changed;
  }

  /** Decoder outputs for the contexts, row-major [contexts x joinerDim]; runs the decoder once for those not cached. */
  private async decoderOut(contexts: readonly (readonly number[])[]): Promise<Float32Array> {
    const { joinerDim: J, contextSize: C } = this.config;
    const keys = contexts.map((c) => c.join(','));
    const missing = [...new Set(keys.filter((k) => !this.cache.has(k)))];
    if (missing.length > 0) {
      const y = new BigInt64Array(missing.length * C);
      missing.forEach((k, m) => k.split(',').forEach((v, i) => (y[m * C + i] = BigInt(v))));
      const out = await this.decoder.model.step({ y: new ort.Tensor('int64', y, [missing.length, C]) }, this.decoderState);
      const data = out.decoder_out.data as Float32Array;
      missing.forEach((k, m) => this.cache.set(k, data.slice(m * J, (m + 1) * J)));
    }
    const result = new Float32Array(contexts.length * J);
    keys.forEach((k, h) => {
      const v = this.cache.get(k)!;
      // Refresh the entry (Map order is insertion order: the first key is the least recently used).
      this.cache.delete(k);
      this.cache.set(k, v);
      result.set(v, h * J);
    });
    while (this.cache.size > DECODER_CACHE) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  reset(): void {
    this.encoder.reset();
    this.search.reset();
  }

  dispose(): void {
    this.decoderState.dispose();
    this.joinerState.dispose();
    this.encoder.dispose();
    this.decoder.release();
    this.joiner.release();
  }
}
