/**
 * Model contracts: what a streaming model must look like before we run it. A contract lists the
 * inputs and outputs (name, dtype, shape with fixed or symbolic dims) and the state pairs (an
 * output fed back as the next step's input). Checking at load time turns "wrong model" into one
 * clear error naming the model, the tensor and what was expected, instead of a failure deep in
 * the first inference call.
 */
import type * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** A dim is a fixed size (number) or symbolic (string name, matches any size). */
export type Dim = number | string;

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export interface StatePair {
  /** Input the state is fed through (e.g. `state`, `cache_last_channel`). */
  readonly input: string;
  /** Output that carries the next state (e.g. `stateN`, `cache_last_channel_next`). */
  readonly output: string;
  /** Concrete shape of the initial (zero) state for batch size 1 (a dim may be 0: an empty cache that grows). */
  readonly initialShape: readonly number[];
  /**
   * 'once': only the first step after a reset writes this state; later steps' values of the
   * output are ignored (Moonshine's cross-attention cache: computed from the encoder output on
   * an utterance's first decoder step, then returned empty by the cache branch). Default 'every'.
   */
  readonly updated?: 'every' | 'once';
}

export interface ModelContract {
  /** Human name used in errors and logs, e.g. "Silero VAD v5". */
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly state: readonly StatePair[];
  /**
   * The symbolic dim that is the batch (e.g. 'B'): tensors whose shape has it stack across
   * streams along that axis (batcher.ts); tensors without it are shared by a batch's steps and
   * must be equal. Absent: the model's steps never batch.
   */
  readonly batchDim?: string;
  /**
   * Where the model's CPU steps run unless the caller says (SessionOptions.thread): 'worker' for
   * models many live streams share whose feeds are small next to their compute (a step's feeds
   * are copied to the worker); 'main' (the default) for the rest, such as a model that carries
   * its cache in its feeds for one stream (video-world: 0.5 MB a frame).
   */
  readonly thread?: 'worker' | 'main';
  /**
   * A valid input for the device check (device-check.ts): the size of each symbolic dim and the
   * value of each integer input. Absent: the model is not checked, and runs on the CPU only
   * when a device is asked for.
   */
  readonly probe?: {
    readonly dims: Readonly<Record<string, number>>;
    readonly ints?: Readonly<Record<string, number>>;
    /** Inputs whose values matter (a conditioning vector): given exactly instead of drawn. */
    readonly values?: Readonly<Record<string, readonly number[]>>;
    /** Largest difference allowed, relative to each output's magnitude (at least 1); default 1e-3. */
    readonly tolerance?: number;
  };
}

interface ValueMeta {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

function fmtShape(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'number' ? String(d) : d === '' ? '?' : d)).join(', ')}]`;
}

function checkOne(where: string, spec: TensorSpec, meta: ValueMeta | undefined, modelName: string): void {
  if (!meta) return;
  if (meta.type !== undefined && meta.type !== spec.dtype) {
    throw new ModelError(
      'model-contract',
      `${modelName}: ${where} '${spec.name}' has dtype ${meta.type}, expected ${spec.dtype}`,
    );
  }
  if (meta.shape === undefined) return;
  if (meta.shape.length !== spec.shape.length) {
    throw new ModelError(
      'model-contract',
      `${modelName}: ${where} '${spec.name}' has rank ${meta.shape.length} ${fmtShape(meta.shape)}, expected rank ${spec.shape.length} ${fmtShape(spec.shape)}`,
    );
  }
  meta.shape.forEach((d, i) => {
    const want = spec.shape[i];
    if (typeof d === 'number' && typeof want === 'number' && d !== want) {
      throw new ModelError(
        'model-contract',
        `${modelName}: ${where} '${spec.name}' has shape ${fmtShape(meta.shape!)}, expected ${fmtShape(spec.shape)} (dim ${i} is ${d}, expected ${want})`,
      );
    }
  });
}

/** Throws ModelError('model-contract') when the loaded session does not satisfy the contract. */
export function checkContract(session: ort.InferenceSession, contract: ModelContract, modelPath: string): void {
  const who = `${contract.name} (${modelPath})`;
  const inMeta = new Map((session.inputMetadata as readonly ValueMeta[]).map((v) => [v.name, v]));
  const outMeta = new Map((session.outputMetadata as readonly ValueMeta[]).map((v) => [v.name, v]));
  for (const spec of contract.inputs) {
    if (!inMeta.has(spec.name)) {
      throw new ModelError(
        'model-contract',
        `${who}: missing input '${spec.name}' (model inputs: ${session.inputNames.join(', ')})`,
      );
    }
    checkOne('input', spec, inMeta.get(spec.name), who);
  }
  const known = new Set(contract.inputs.map((s) => s.name));
  const extra = session.inputNames.filter((n) => !known.has(n));
  if (extra.length > 0) {
    throw new ModelError('model-contract', `${who}: unexpected input(s) ${extra.map((n) => `'${n}'`).join(', ')}`);
  }
  for (const spec of contract.outputs) {
    if (!outMeta.has(spec.name)) {
      throw new ModelError(
        'model-contract',
        `${who}: missing output '${spec.name}' (model outputs: ${session.outputNames.join(', ')})`,
      );
    }
    checkOne('output', spec, outMeta.get(spec.name), who);
  }
  for (const pair of contract.state) {
    const i = contract.inputs.find((s) => s.name === pair.input);
    const o = contract.outputs.find((s) => s.name === pair.output);
    if (!i || !o) throw new Error(`contract ${contract.name}: state pair ${pair.input}->${pair.output} not declared`);
    const asSpec: TensorSpec = { name: pair.input, dtype: i.dtype, shape: pair.initialShape };
    checkOne('state input', asSpec, inMeta.get(pair.input), who);
  }
}

/** Checks a tensor about to be fed against its spec (fixed dims only); cheap enough for every step. */
export function checkFeed(spec: TensorSpec, tensor: ort.Tensor, modelName: string): void {
  if (tensor.type !== spec.dtype) {
    throw new ModelError('model-contract', `${modelName}: feed '${spec.name}' has dtype ${tensor.type}, expected ${spec.dtype}`);
  }
  const dims = tensor.dims;
  const bad =
    dims.length !== spec.shape.length ||
    dims.some((d, i) => typeof spec.shape[i] === 'number' && spec.shape[i] !== d);
  if (bad) {
    throw new ModelError(
      'model-contract',
      `${modelName}: feed '${spec.name}' has shape ${fmtShape(dims)}, expected ${fmtShape(spec.shape)}`,
    );
  }
}
