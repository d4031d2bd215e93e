/**
 * The settings a Causeway model keeps beside its graph (`step.onnx` -> `step.json`): read once,
 * with errors that name the model, the file and the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ModelError } from '../errors.js';

export interface Sidecar {
  readonly meta: Record<string, unknown>;
  /** An error saying the sidecar needs `what` as `key`, and what it has. */
  bad(key: string, what: string): ModelError;
  /** The integer at `key`, at least `min` (default 1). */
  int(key: string, min?: number): number;
}

/** `label` names the model kind in errors ("binaural-flow model"); `modelType` is the required `model_type`. */
export function readSidecar(modelPath: string, label: string, modelType: string): Sidecar {
  if (!existsSync(modelPath)) throw new ModelError('model-not-found', `${label} ${modelPath} not found`);
  const path = modelPath.replace(/\.onnx$/, '') + '.json';
  if (!existsSync(path)) throw new ModelError('model-contract', `${label} ${modelPath}: its settings ${path} are missing`);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ModelError('model-contract', `${label} ${modelPath}: cannot read ${path} (${(e as Error).message.split('\n')[0]})`);
  }
  const bad = (k: string, what: string) => new ModelError('model-contract', `${label} ${modelPath}: ${path} needs ${what} '${k}', got ${JSON.stringify(meta[k])}`);
  if (meta.model_type !== modelType) throw bad('model_type', `'${modelType}' as`);
  const int = (k: string, min = 1): number => {
    const v = meta[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(k, min === 0 ? 'a whole number' : min === 1 ? 'a positive integer' : `an integer >= ${min}`);
    return v;
  };
  return { meta, bad, int };
}
