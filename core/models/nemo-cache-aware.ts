/**
 * NeMo-style cache-aware streaming encoders with a CTC head, in NeMo's export contract: inputs
 * audio_signal [B, n_mels, T], length [B], cache_last_channel [B, layers, left, d],
 * cache_last_time [B, layers, d, k-1], cache_last_channel_len [B]; outputs logprobs [B, T', vocab],
 * encoded_lengths and a `*_next` for each cache. The caches are StepState; the pre-encode cache
 * (the last mel frames of the previous chunk, fed ahead of each chunk so the subsampling front end
 * sees continuous input) is stream state kept here beside it.
 *
 * Settings are the keys sherpa-onnx reads from NeMo models' metadata (window_size, chunk_shift,
 * pre_encode_cache_size, cache_last_channel_dim1..3, cache_last_time_dim1..3, vocab_size, ...),
 * from a sidecar JSON beside the model (`model.onnx` -> `model.json`) when there is one, else
 * from the ONNX file's own metadata_props (read by core/onnx/metadata.ts: the ONNX Runtime JS
 * API does not expose custom metadata). The key `frontend` says which features the model wants:
 * 'causeway' (Causeway's own log-mel, kernels/mel.ts StreamingLogMel: what models/command-asr is
 * trained on) or 'nemo' (NeMo's featurizer, StreamingNemoMel), the default, since real NeMo
 * exports do not carry the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { CausewayError, ModelError } from '../errors.js';
import type { ModelContract } from '../onnx/contract.js';
import { readOnnxMetadata } from '../onnx/metadata.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { SessionOptions } from '../onnx/session.js';
import type { StepState } from '../onnx/step-model.js';

export interface CacheAwareConfig {
  nMels: number;
  /** Mel frames consumed per step. */
  chunk: number;
  /** Mel frames of the previous chunk fed ahead of each chunk. */
  preEncode: number;
  layers: number;
  leftContext: number;
  dModel: number;
  convCache: number;
  /** Outputs of the CTC head: vocab_size + 1 (the blank, last). */
  vocab: number;
  subsampling: number;
  /** The features the model was trained on: 'causeway' (StreamingLogMel) or 'nemo' (StreamingNemoMel). */
  frontend: 'causeway' | 'nemo';
}

/** Reads the sidecar JSON of a NeMo cache-aware export; errors name the file and the key. */
export function readCacheAwareConfig(modelPath: string): CacheAwareConfig {
  const sidecar = modelPath.replace(/\.onnx$/, '') + '.json';
  let meta: Record<string, unknown>;
  let path = sidecar;
  if (existsSync(sidecar)) {
    try {
      meta = JSON.parse(readFileSync(sidecar, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ModelError('model-contract', `cache-aware model ${modelPath}: cannot read its settings ${sidecar} (${(e as Error).message.split('\n')[0]})`);
    }
  } else {
    meta = readOnnxMetadata(modelPath);
    path = `its ONNX metadata (no ${sidecar})`;
  }
  const num = (k: string): number => {
    const v = Number(meta[k]);
    if (!Number.isInteger(v) || v < 0) throw new ModelError('model-contract', `cache-aware model ${modelPath}: ${path} needs an integer '${k}', got ${JSON.stringify(meta[k])}`);
    return v;
  };
  const window = num('window_size');
  const chunk = num('chunk_shift');
  return {
    nMels: num('feat_dim'),
    chunk,
    preEncode: meta.pre_encode_cache_size !== undefined ? num('pre_encode_cache_size') : window - chunk,
    layers: num('cache_last_channel_dim1'),
    leftContext: num('cache_last_channel_dim2'),
    dModel: num('cache_last_channel_dim3'),
    convCache: num('cache_last_time_dim3'),
    // NeMo's vocab_size counts the BPE pieces; the CTC head has one more output, the blank (last).
    vocab: num('vocab_size') + 1,
    subsampling: num('subsampling_factor'),
    frontend: frontendOf(meta.frontend, modelPath, path),
  };
}

function frontendOf(v: unknown, modelPath: string, path: string): 'causeway' | 'nemo' {
  if (v === undefined) return 'nemo';
  if (v === 'causeway' || v === 'nemo') return v;
  throw new ModelError('model-contract', `cache-aware model ${modelPath}: ${path} has frontend ${JSON.stringify(v)}; expected 'causeway' or 'nemo'`);
}

export function cacheAwareContract(c: CacheAwareConfig): ModelContract {
  return {
    name: 'NeMo cache-aware CTC',
    inputs: [
      { name: 'audio_signal', dtype: 'float32', shape: ['B', c.nMels, 'T'] },
      { name: 'length', dtype: 'int64', shape: ['B'] },
      { name: 'cache_last_channel', dtype: 'float32', shape: ['B', c.layers, c.leftContext, c.dModel] },
      { name: 'cache_last_time', dtype: 'float32', shape: ['B', c.layers, c.dModel, c.convCache] },
      { name: 'cache_last_channel_len', dtype: 'int64', shape: ['B'] },
    ],
    outputs: [
      { name: 'logprobs', dtype: 'float32', shape: ['B', 'T_out', c.vocab] },
      { name: 'encoded_lengths', dtype: 'int64', shape: ['B'] },
      { name: 'cache_last_channel_next', dtype: 'float32', shape: ['B', c.layers, c.leftContext, c.dModel] },
      { name: 'cache_last_time_next', dtype: 'float32', shape: ['B', c.layers, c.dModel, c.convCache] },
      { name: 'cache_last_channel_next_len', dtype: 'int64', shape: ['B'] },
    ],
    state: [
      { input: 'cache_last_channel', output: 'cache_last_channel_next', initialShape: [1, c.layers, c.leftContext, c.dModel] },
      { input: 'cache_last_time', output: 'cache_last_time_next', initialShape: [1, c.layers, c.dModel, c.convCache] },
      { input: 'cache_last_channel_len', output: 'cache_last_channel_next_len', initialShape: [1] },
    ],
    batchDim: 'B',
    // Shared by every live caption stream, with feeds small next to its compute (~100 KB of cache a step for the command model): its runs go to a worker thread.
    thread: 'worker',
    // One full chunk after a full attention cache.
    probe: { dims: { B: 1, T: c.preEncode + c.chunk }, ints: { length: c.preEncode + c.chunk, cache_last_channel_len: c.leftContext } },
  };
}

/** One stream through a shared cache-aware model: mel frames in, CTC log-prob frames out. */
export class CacheAwareStream {
  private readonly pending: Float32Array;
  private fill = 0;
  /** The last preEncode mel frames seen, mel-major ([n_mels, preEncode]): fed ahead of the next chunk. */
  private readonly preCache: Float32Array;
  private readonly input: Float32Array;
  private readonly state: StepState;

  private constructor(
    private readonly lease: ModelLease,
    readonly config: CacheAwareConfig,
  ) {
    this.pending = new Float32Array(config.chunk * config.nMels);
    this.preCache = new Float32Array(config.preEncode * config.nMels);
    this.input = new Float32Array((config.preEncode + config.chunk) * config.nMels);
    this.state = lease.model.newState();
  }

  static async open(modelPath: string, options: SessionOptions = {}): Promise<CacheAwareStream> {
    const config = readCacheAwareConfig(modelPath);
    const lease = await acquireModel(modelPath, cacheAwareContract(config), options);
    return new CacheAwareStream(lease, config);
  }

  /** Feeds one mel frame (n_mels values); resolves with the log-prob frames a completed chunk produced (row-major [T', vocab]), or none. */
  async push(mel: Float32Array): Promise<Float32Array | undefined> {
    const { nMels, chunk } = this.config;
    if (mel.length !== nMels) throw new CausewayError('invalid-frame', `cache-aware model wants ${nMels} mel values per frame, got ${mel.length}`);
    this.pending.set(mel, this.fill * nMels);
    this.fill++;
    if (this.fill < chunk) return undefined;
    return this.run();
  }

  /**
   * Runs what is left (a shorter last chunk) at the end of the stream: the whole encoder frames
   * of it, as the offline run over the whole utterance does (a subsampling front end makes
   * floor(frames / subsampling) of them); the rest cannot make an output frame.
   */
  async flush(): Promise<Float32Array | undefined> {
    const { nMels, chunk, subsampling, vocab } = this.config;
    const whole = this.fill - (this.fill % subsampling);
    if (whole === 0) {
      this.fill = 0;
      return undefined;
    }
    // A full chunk, zero-padded: graphs exported with a static chunk take nothing else. The
    // encoder is causal, so the padding changes no output before it; its own outputs are dropped.
    this.pending.fill(0, this.fill * nMels);
    const out = await this.run();
    return out.slice(0, (whole / subsampling) * vocab);
  }

  private async run(): Promise<Float32Array> {
    const { nMels, preEncode, chunk: frames } = this.config;
    const T = preEncode + frames;
    // Frame-major pending -> mel-major [n_mels, T], after the preEncode frames kept from last time
    // (one buffer: one step is in flight per stream, and every step is a full chunk).
    const input = this.input;
    for (let m = 0; m < nMels; m++) {
      for (let t = 0; t < preEncode; t++) input[m * T + t] = this.preCache[m * preEncode + t];
      for (let t = 0; t < frames; t++) input[m * T + preEncode + t] = this.pending[t * nMels + m];
    }
    // Keep the last preEncode frames of [previous | this chunk] for the next step.
    for (let m = 0; m < nMels; m++) for (let t = 0; t < preEncode; t++) this.preCache[m * preEncode + t] = input[m * T + T - preEncode + t];
    this.fill = 0;
    const out = await this.lease.model.step(
      {
        audio_signal: new ort.Tensor('float32', input, [1, nMels, T]),
        length: new ort.Tensor('int64', BigInt64Array.of(BigInt(T)), [1]),
      },
      this.state,
    );
    return out.logprobs.data as Float32Array;
  }

  reset(): void {
    this.fill = 0;
    this.preCache.fill(0);
    this.state.reset();
  }

  /** The execution provider the shared model runs on. */
  get provider(): string {
    return this.lease.model.provider;
  }

  dispose(): void {
    this.state.dispose();
    this.lease.release();
  }
}
