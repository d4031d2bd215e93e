import { CausewayError } from '../core/errors.js';
import type { AudioFrame } from '../core/frames.js';

/**
 * Operators fix their format from the first frame; a later frame with another rate or channel
 * count is an error (a silent reinterpretation would corrupt every sample after it).
 */
export function checkAudio(op: string, frame: AudioFrame, expect: { sampleRate?: number; channels?: number }): void {
  if (frame.kind !== 'audio') throw new CausewayError('invalid-frame', `${op} expects audio frames, got '${(frame as { kind: string }).kind}'`);
  if (expect.sampleRate !== undefined && frame.sampleRate !== expect.sampleRate) {
    throw new CausewayError('invalid-frame', `${op}: frame at ${frame.sampleRate} Hz, expected ${expect.sampleRate} Hz`);
  }
  if (expect.channels !== undefined && frame.channels !== expect.channels) {
    throw new CausewayError('invalid-frame', `${op}: frame with ${frame.channels} channel(s), expected ${expect.channels}`);
  }
  if (frame.data.length % frame.channels !== 0) {
    throw new CausewayError('invalid-frame', `${op}: ${frame.data.length} samples is not a multiple of ${frame.channels} channels`);
  }
}
