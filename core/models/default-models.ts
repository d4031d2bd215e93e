/**
 * Where the models Causeway ships live, in one place. Paths resolve against this file's place in
 * the package (dist/core/models/ -> the package root), the way the CLI finds its demo clip
 * and the server its web page, so they hold wherever the package is installed.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The speech recogniser the server's captions run by default (the `asr` operator's 'conformer'
 * engine): Causeway's own command recogniser (models/command-asr: digits and a few dozen command
 * words, trained on synthetic speech), a cache-aware Conformer-CTC step graph in the NeMo contract
 * with its settings (`step.json`) and `tokens.txt` beside it.
 */
export function defaultCommandModel(): string {
  return join(PACKAGE_ROOT, 'models', 'command-asr', 'model', 'step.onnx');
}

/**
 * Checks that a conformer-engine model's files are there (the graph and `tokens.txt` beside it;
 * its settings, from a `.json` sidecar or the graph's metadata, are read by readCacheAwareConfig),
 * so a server refuses to start on a missing model instead of failing every session. Throws
 * ModelError 'model-not-found' naming what is missing.
 */
export function checkConformerModelFiles(modelPath: string, what = 'asr model'): void {
  const missing = [modelPath, join(dirname(modelPath), 'tokens.txt')].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new ModelError('model-not-found', `${what} ${modelPath}: missing ${missing.join(', ')}`);
  }
}

/**
 * The keyword spotter's head (`kws` operator): Causeway's own, trained on synthetic speech over
 * openWakeWord's feature models (models/kws), with `head.json` beside it.
 */
export function defaultKwsModel(): string {
  return join(PACKAGE_ROOT, 'models', 'kws', 'model', 'head.onnx');
}
