import assert from 'node:assert/strict';
import { AudioTail } from '../../kernels/audio-tail.js';
import { rng } from '../helpers-random.js';

describe('kernels/audio-tail', () => {
  it('any kept range reads back as the same samples of the whole signal, across appends of any size and drops', () => {
    const rand = rng(21);
    const capacity = 1000;
    const tail = new AudioTail(capacity);
    const whole: number[] = [];
    let dropped = 0;
    for (let step = 0; step < 400; step++) {
      const n = Math.floor(rand() * 300);
      const x = Float32Array.from({ length: n }, () => Math.fround(rand() * 2 - 1));
      tail.append(x);
      whole.push(...x);
      assert.equal(tail.end, whole.length);
      // Appending past the capacity drops the oldest: at most `capacity` samples are kept.
      dropped = Math.max(dropped, whole.length - capacity);
      if (rand() < 0.3) {
        const at = dropped + Math.floor(rand() * (whole.length - dropped + 1));
        tail.dropBefore(at);
        dropped = Math.max(dropped, at);
      }
      const from = dropped + Math.floor(rand() * (whole.length - dropped + 1));
      const to = from + Math.floor(rand() * (whole.length - from + 1));
      assert.deepEqual(Array.from(tail.slice(from, to)), whole.slice(from, to), `step ${step}: [${from}, ${to})`);
    }
    // A range reaching before what is kept is clamped to it.
    assert.deepEqual(Array.from(tail.slice(0, whole.length)), whole.slice(dropped));
  });
});
