/**
 * Dictation keeps short phrases: real speech cut into pieces of 0.35-0.5 s (LibriVox, Debian's
 * pocketsphinx-testdata), each alone between pauses, must each come out as a final with words.
 * Before short segments were decoded again inside silence, "he might" (0.37 s) gave an empty
 * decode and no final at all.
 */
import assert from 'node:assert/strict';
import { lastValueFrom, toArray } from 'rxjs';
import { moonshineAsr } from '../../operators/asr/moonshine.js';
import { librivoxUtterances } from '../wer.js';
import { framesOf, from } from './frames-helpers.js';

const SR = 16000;

describe('operators/asr-moonshine: short phrases between pauses', function () {
  this.timeout(180_000);
  it('gives every short phrase a final with its words', async () => {
    const clips = librivoxUtterances();
    // [clip, start s, end s, a word it must contain (empty: any words)]
    const cuts: [number, number, number, string][] = [
      [1, 0.25, 0.6, 'was'],
      [1, 0.3, 0.65, 'not'],
      [1, 2.3, 2.8, 'man'],
      [4, 0.28, 0.65, 'might'],
      [4, 2.5, 3.0, 'self'],
      [3, 0.3, 0.65, ''],
      [2, 0.28, 0.63, ''],
    ];
    const gap = Math.round(0.9 * SR);
    const spans: { start: number; end: number }[] = [];
    const total = cuts.reduce((n, [, a, b]) => n + gap + Math.round(b * SR) - Math.round(a * SR), gap);
    const x = new Float32Array(total);
    let at = 0;
    for (const [i, a, b] of cuts) {
      at += gap;
      const piece = clips[i].samples.subarray(Math.round(a * SR), Math.round(b * SR));
      x.set(piece, at);
      spans.push({ start: at / SR, end: (at + piece.length) / SR });
      at += piece.length;
    }
    const sizes = Array.from({ length: Math.ceil(total / 320) }, (_, k) => Math.min(320, total - k * 320));
    const events = await lastValueFrom(from(framesOf(x, SR, sizes)).pipe(moonshineAsr({ device: 'cpu', queue: { capacity: 1_000_000 } }), toArray()));
    const finals = events.filter((e) => e.type === 'final');
    const report = finals.map((f) => `${(f.startUs / 1e6).toFixed(2)}-${(f.endUs / 1e6).toFixed(2)} "${f.text}"`).join('; ');
    cuts.forEach(([, , , word], k) => {
      const s = spans[k];
      // The segment includes the VAD's pad (100 ms) and a window of rounding around the piece.
      const f = finals.filter((e) => e.startUs / 1e6 < s.end && e.endUs / 1e6 > s.start);
      assert.equal(f.length, 1, `piece ${k} (${s.start.toFixed(2)}-${s.end.toFixed(2)} s): ${f.length} finals; all: ${report}`);
      assert.ok(/\p{L}/u.test(f[0].text), `piece ${k} has no words: "${f[0].text}"`);
      if (word) assert.ok(f[0].text.toLowerCase().includes(word), `piece ${k}: "${f[0].text}" lacks "${word}"`);
    });
  });
});
