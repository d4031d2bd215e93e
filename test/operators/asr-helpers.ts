import assert from 'node:assert/strict';
import type { AsrEvent } from '../../operators/asr/index.js';
import { rng } from '../helpers-random.js';

/**
 * 16 kHz noise and tone bursts (0.5 s on, 0.5 s off), so a random-weight model's argmax moves
 * around; `gapNoise` is the peak-to-peak level of the noise in the gaps (0: digital silence).
 */
export function burstSignal(seconds: number, seed: number, gapNoise: number): Float32Array {
  const rand = rng(seed);
  const x = new Float32Array(16000 * seconds);
  for (let i = 0; i < x.length; i++) {
    const burst = Math.floor(i / 8000) % 2 === 0;
    x[i] = burst ? 0.3 * Math.sin(i * 0.05 * (1 + Math.floor(i / 8000))) + 0.2 * (rand() - 0.5) : gapNoise === 0 ? 0 : gapNoise * (rand() - 0.5);
  }
  return x;
}

export const stripAsrEvents = (es: AsrEvent[]) => es.map((e) => [e.type, e.text, e.startUs, e.endUs]);

/** Partials only grow, each final says what the last partial said, times are ordered and within [minUs, maxUs], and the stream ends with a final. */
export function assertEventSequence(events: readonly AsrEvent[], minUs = 0, maxUs = Infinity): void {
  let open = '';
  for (const e of events) {
    assert.ok(e.startUs <= e.endUs && e.startUs >= minUs && e.endUs <= maxUs, JSON.stringify(e));
    if (e.type === 'partial') {
      assert.ok(e.text.startsWith(open), `partial '${e.text}' does not extend '${open}'`);
      open = e.text;
    } else {
      assert.equal(e.text, open, 'a final says what the last partial said');
      open = '';
    }
  }
  assert.equal(events[events.length - 1].type, 'final', 'the stream ends with a final');
}
