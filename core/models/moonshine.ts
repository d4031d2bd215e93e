/**
 * Moonshine (tiny, English) speech recognition: an encoder over raw 16 kHz audio and a merged
 * decoder run token by token with its key/value cache. The ONNX files are read from the
 * `@moonshine-ai/moonshine-js` npm tarball (MIT; quantized tiny model): nothing is downloaded.
 *
 * Encoder: `input_values` [1, samples] float32 -> `last_hidden_state` [1, frames, 288] (about 41
 * frames per second). Merged decoder: `input_ids` [1, 1] int64, `encoder_hidden_states`,
 * `use_cache_branch` bool [1] and `past_key_values.{layer}.{decoder|encoder}.{key|value}`
 * [1, 8, len, 36] -> `logits` [1, 1, 32768] and `present.*` with the same suffixes.
 * Step 0 runs with use_cache_branch = false and empty pasts; it returns the cross-attention
 * (`.encoder.`) keys and values, computed once per utterance and fed back unchanged (the cache
 * branch returns them empty), while the self-attention (`.decoder.`) ones grow by one position
 * each step. The caches are the decoder's StepState like any model's state (the cross-attention
 * pairs updated 'once'), reset at each utterance. Names are mapped present.X -> past_key_values.X,
 * never by output position.
 *
 * Greedy decoding from BOS `<s>` (1) until EOS `</s>` (2) or ceil(seconds * 6.5) tokens (the bound
 * the Moonshine core uses; it keeps a hallucinating loop on noise short and the work per
 * utterance proportional to its length). A forced `prefix` of tokens (words already committed by a
 * streaming policy) is fed after BOS in the first decoder run, all positions at once, so only the
 * tokens after it are generated one by one: greedy decoding of the same audio reproduces its own
 * output from any prefix of it, and a re-decode costs one run for the prefix plus one per new token.
 *
 * Tokens 0..31999 are the LLaMA SentencePiece vocabulary; 32000..32767 are Moonshine's special
 * `<<ST_n>>` tokens and never text. The vocabulary comes from `llama-tokenizer-js` (MIT), the same
 * data moonshine-js bundles into its own build (its tarball ships no tokenizer file).
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { CausewayError, ModelError } from '../errors.js';
import { nowMs } from '../frames.js';
import type { ModelContract, TensorSpec } from '../onnx/contract.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { SessionOptions } from '../onnx/session.js';
import type { StepState } from '../onnx/step-model.js';

export const MOONSHINE_SAMPLE_RATE = 16000;
export const MOONSHINE_BOS = 1;
export const MOONSHINE_EOS = 2;
/** Decoding bound: tokens per second of audio (the Moonshine core's max_tokens_per_second). */
export const MOONSHINE_TOKENS_PER_SECOND = 6.5;

/** Tiny's dimensions (Base, not shipped on npm, has 8 layers and head_dim 52). */
export const moonshineTiny = { layers: 6, heads: 8, headDim: 36, dModel: 288, vocab: 32768 } as const;
type Dims = typeof moonshineTiny;

export const ENCODER_FILE = 'encoder_model.onnx';
export const DECODER_FILE = 'decoder_model_merged.onnx';

export function moonshineEncoderContract(d: Dims = moonshineTiny): ModelContract {
  return {
    name: 'Moonshine encoder',
    inputs: [{ name: 'input_values', dtype: 'float32', shape: ['batch', 'samples'] }],
    outputs: [{ name: 'last_hidden_state', dtype: 'float32', shape: ['batch', 'frames', d.dModel] }],
    state: [],
  };
}

/** Names of the 4 * layers cache tensors, with `prefix` 'past_key_values' or 'present'. */
export function kvNames(prefix: 'past_key_values' | 'present', d: Dims = moonshineTiny): string[] {
  const out: string[] = [];
  for (let i = 0; i < d.layers; i++) for (const a of ['decoder', 'encoder']) for (const k of ['key', 'value']) out.push(`${prefix}.${i}.${a}.${k}`);
  return out;
}

export function moonshineDecoderContract(d: Dims = moonshineTiny): ModelContract {
  const kv = (prefix: 'past_key_values' | 'present'): TensorSpec[] =>
    kvNames(prefix, d).map((name) => ({ name, dtype: 'float32', shape: ['batch', d.heads, 'len', d.headDim] }));
  return {
    name: 'Moonshine merged decoder',
    inputs: [
      { name: 'input_ids', dtype: 'int64', shape: ['batch', 'tokens'] },
      { name: 'encoder_hidden_states', dtype: 'float32', shape: ['batch', 'frames', d.dModel] },
      ...kv('past_key_values'),
      { name: 'use_cache_branch', dtype: 'bool', shape: [1] },
    ],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'tokens', d.vocab] }, ...kv('present')],
    // Every cache starts empty at an utterance (a reset). The self-attention ones grow by the
    // step's tokens each step; the cross-attention ones are the first step's, kept.
    state: kvNames('past_key_values', d).map((input) => ({
      input,
      output: input.replace('past_key_values', 'present'),
      initialShape: [1, d.heads, 0, d.headDim],
      updated: input.includes('.encoder.') ? ('once' as const) : ('every' as const),
    })),
  };
}

/** Directory of the tiny quantized model inside the moonshine-js package. */
export function defaultMoonshineDir(): string {
  // The package exports only its ESM entry (dist/moonshine.min.js); the models sit beside it.
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve('@moonshine-ai/moonshine-js'));
  } catch (e) {
    throw new ModelError('model-not-found', `Moonshine: the @moonshine-ai/moonshine-js package is not installed (npm ci installs it) (${(e as Error).message.split('\n')[0]})`);
  }
  return join(dirname(entry), 'model', 'tiny', 'quantized');
}

export interface MoonshineFiles {
  encoder: string;
  decoder: string;
}

/**
 * The two files of a Moonshine model: `model` is a directory holding encoder_model.onnx and
 * decoder_model_merged.onnx (the published export names); `encoder`/`decoder` name files directly.
 */
export function moonshineFiles(o: { model?: string; encoder?: string; decoder?: string } = {}): MoonshineFiles {
  const dir = o.model ?? (o.encoder && o.decoder ? undefined : defaultMoonshineDir());
  if (dir !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      throw new ModelError('model-not-found', `Moonshine model directory not found: ${dir}`);
    }
    if (!isDir) {
      throw new ModelError('model-invalid', `Moonshine model ${dir} is a file; pass the directory holding ${ENCODER_FILE} and ${DECODER_FILE} (or name them with encoder/decoder)`);
    }
  }
  return { encoder: o.encoder ?? join(dir!, ENCODER_FILE), decoder: o.decoder ?? join(dir!, DECODER_FILE) };
}

/** Token ids -> text with the LLaMA SentencePiece pieces (byte fallback, '▁' = space). */
export class MoonshineTokenizer {
  private readonly utf8 = new TextDecoder('utf-8');

  constructor(private readonly pieces: readonly string[]) {
    const want: [number, string][] = [[0, '<unk>'], [1, '<s>'], [2, '</s>'], [3, '<0x00>'], [258, '<0xFF>']];
    const bad = want.find(([i, p]) => pieces[i] !== p);
    if (pieces.length !== 32000 || bad) {
      throw new ModelError(
        'model-contract',
        `Moonshine tokenizer: expected the 32000-piece LLaMA SentencePiece vocabulary (<unk> <s> </s>, bytes at 3..258); ` +
          `got ${pieces.length} pieces${bad ? `, piece ${bad[0]} is ${JSON.stringify(pieces[bad[0]])}` : ''}`,
      );
    }
  }

  /** The vocabulary shipped in llama-tokenizer-js (loaded on first use: decoding its data takes a few hundred ms). */
  static async load(): Promise<MoonshineTokenizer> {
    const m = (await import('llama-tokenizer-js')) as { default: { vocabById: string[] } };
    return new MoonshineTokenizer(m.default.vocabById);
  }

  /**
   * Tokens grouped into words: a word starts at a piece that begins with '▁' (a space); byte
   * pieces and pieces without '▁' continue the word before them. A group without text (control
   * tokens, a lone '▁') joins the word before it, or the next one at the start, so every word has
   * text and the words' tokens concatenate to `ids` (unless `ids` has no text at all: then no words).
   */
  words(ids: readonly number[]): MoonshineWord[] {
    const words: MoonshineWord[] = [];
    let group: number[] = [];
    const close = () => {
      const text = this.decode(group);
      if (text !== '') words.push({ text, tokens: group });
      else if (words.length > 0) words[words.length - 1].tokens.push(...group);
      else return; // no text yet: these tokens lead the next word
      group = [];
    };
    for (const id of ids) {
      if (group.length > 0 && id > 258 && id < this.pieces.length && this.pieces[id].startsWith('\u2581')) close();
      group.push(id);
    }
    if (group.length > 0) close();
    return words;
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    const enc = new TextEncoder();
    for (const id of ids) {
      // Control tokens (<unk>, <s>, </s>) and Moonshine's specials past the LLaMA range are not text.
      if (id <= MOONSHINE_EOS || id >= this.pieces.length) continue;
      if (id <= 258) bytes.push(id - 3);
      else for (const b of enc.encode(this.pieces[id].replace(/\u2581/g, ' '))) bytes.push(b);
    }
    return this.utf8.decode(Uint8Array.from(bytes)).trim();
  }
}

export interface MoonshineWord {
  text: string;
  tokens: number[];
}

export interface MoonshineTranscript {
  text: string;
  /** Token ids (the forced prefix, then the generated ones), without BOS and EOS. */
  tokens: number[];
  /** True when decoding stopped at the token bound instead of at EOS. */
  hitLimit: boolean;
  encodeMs: number;
  decodeMs: number;
}

export interface MoonshineOptions extends SessionOptions {
  model?: string;
  encoder?: string;
  decoder?: string;
}

/** Shortest input the encoder turns into at least one frame (its three strided convolutions). */
const MIN_SAMPLES = 1024;

/** One user of a (shared) Moonshine model; `transcribe` calls must not overlap. */
export class Moonshine {
  private readonly encState: StepState;
  private readonly decState: StepState;
  private disposed = false;

  private constructor(
    private readonly enc: ModelLease,
    private readonly dec: ModelLease,
    readonly tokenizer: MoonshineTokenizer,
    readonly files: MoonshineFiles,
  ) {
    this.encState = enc.model.newState();
    this.decState = dec.model.newState();
  }

  static async open(options: MoonshineOptions = {}): Promise<Moonshine> {
    const files = moonshineFiles(options);
    const tokenizer = await MoonshineTokenizer.load();
    const enc = await acquireModel(files.encoder, moonshineEncoderContract(), options);
    let dec: ModelLease;
    try {
      dec = await acquireModel(files.decoder, moonshineDecoderContract(), options);
    } catch (e) {
      enc.release();
      throw e;
    }
    return new Moonshine(enc, dec, tokenizer, files);
  }

  get provider(): string {
    return this.enc.model.provider;
  }

  /** Token bound for `samples` of audio. */
  static maxTokens(samples: number): number {
    return Math.ceil((samples / MOONSHINE_SAMPLE_RATE) * MOONSHINE_TOKENS_PER_SECOND);
  }

  /** Greedy transcript of one utterance of mono 16 kHz audio, optionally continuing a forced token prefix. */
  async transcribe(audio: Float32Array, prefix: readonly number[] = []): Promise<MoonshineTranscript> {
    if (this.disposed) throw new CausewayError('disposed', 'Moonshine used after dispose');
    if (audio.length < MIN_SAMPLES) return { text: this.tokenizer.decode(prefix), tokens: [...prefix], hitLimit: false, encodeMs: 0, decodeMs: 0 };
    const t0 = nowMs();
    const encoded = await this.enc.model.step({ input_values: new ort.Tensor('float32', audio, [1, audio.length]) }, this.encState);
    const hidden = encoded.last_hidden_state;
    const t1 = nowMs();
    // A new utterance: empty caches.
    this.decState.reset();
    // The bound counts the prefix too: it was generated under the bound of shorter audio.
    const limit = Moonshine.maxTokens(audio.length);
    const tokens: number[] = [...prefix];
    let input = [MOONSHINE_BOS, ...prefix];
    let done = false;
    for (let step = 0; tokens.length < limit && !done; step++) {
      const out = await this.dec.model.step(
        {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(input, BigInt), [1, input.length]),
          encoder_hidden_states: hidden,
          use_cache_branch: new ort.Tensor('bool', Uint8Array.of(step > 0 ? 1 : 0), [1]),
        },
        this.decState,
      );
      // Only the last position's logits predict the next token.
      const next = argmax(out.logits.data as Float32Array, (input.length - 1) * moonshineTiny.vocab, moonshineTiny.vocab);
      if (next === MOONSHINE_EOS) done = true;
      else tokens.push(next);
      input = [next];
    }
    return { text: this.tokenizer.decode(tokens), tokens, hitLimit: !done, encodeMs: t1 - t0, decodeMs: nowMs() - t1 };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.encState.dispose();
    this.decState.dispose();
    this.enc.release();
    this.dec.release();
  }
}

function argmax(x: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[offset + i] > x[offset + best]) best = i;
  return best;
}
