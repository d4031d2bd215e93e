/** The pieces of a model's vocabulary, from `tokens.txt` beside it (sherpa-onnx's format: `piece id` per line). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ModelError } from '../../core/errors.js';

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
