/**
 * `asr`: streaming speech recognition events from mono 16 kHz audio, by engine, one file each:
 * - 'conformer' (conformer.ts): a NeMo-contract cache-aware encoder with a CTC head;
 * - 'zipformer' (zipformer.ts): an icefall/sherpa-onnx streaming zipformer2 transducer;
 * - 'moonshine' (moonshine.ts): Moonshine tiny made streaming by VAD segments and LocalAgreement-2,
 *   for real-speech dictation.
 * Tokens (`tokens.txt` beside a model) are read by tokens.ts; the options every engine takes are
 * options.ts.
 */
import { CausewayError } from '../../core/errors.js';
import type { AsrEvent, AudioFrame } from '../../core/frames.js';
import type { StreamOperator } from '../../core/operator-info.js';
import { conformerAsr, preloadConformer } from './conformer.js';
import { moonshineAsr, preloadMoonshineAsr, type MoonshineAsrOptions } from './moonshine.js';
import type { AsrOptions } from './options.js';
import { preloadZipformer, zipformerAsr } from './zipformer.js';

export type { AsrEvent } from '../../core/frames.js';
export type { AsrOptions } from './options.js';
export { readModelTokens, readTokens } from './tokens.js';

/**
 * Loads the models asr(options) will use (any engine) and keeps them loaded until the returned
 * function is called: a server calls it before its first session, so no session loads a model.
 */
export async function preloadAsr(options: AsrOptions | (MoonshineAsrOptions & { engine: 'moonshine' })): Promise<() => void> {
  if (options.engine === 'moonshine') return preloadMoonshineAsr(options);
  if (options.engine === 'zipformer') return preloadZipformer(options);
  if (options.engine !== 'conformer') throw new CausewayError('invalid-argument', `asr: unknown engine '${String(options.engine)}'`);
  return preloadConformer(options);
}

export function asr(options: AsrOptions | (MoonshineAsrOptions & { engine: 'moonshine' })): StreamOperator<AudioFrame, AsrEvent> {
  if (options.engine === 'moonshine') return moonshineAsr(options);
  if (options.engine === 'zipformer') return zipformerAsr(options);
  if (options.engine !== 'conformer') throw new CausewayError('invalid-argument', `asr: unknown engine '${String(options.engine)}'`);
  return conformerAsr(options);
}
