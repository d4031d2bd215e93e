import assert from 'node:assert/strict';
import { CtcGreedyDecoder, ctcGreedyOffline, piecesToText } from '../../kernels/ctc.js';
import { randomChunking, rng } from '../helpers-random.js';

/** Log-probs whose argmax per frame is `labels[t]`. */
function matrix(labels: number[], vocab: number, rand: () => number): Float32Array {
  const lp = new Float32Array(labels.length * vocab);
  labels.forEach((l, t) => {
    for (let v = 0; v < vocab; v++) lp[t * vocab + v] = -5 - rand() * 5;
    lp[t * vocab + l] = -0.1 * rand();
  });
  return lp;
}

describe('kernels/ctc', () => {
  it('collapses repeats, drops blanks, and needs a blank between equal tokens', () => {
    const B = 0;
    const lp = matrix([B, 3, 3, B, 3, 2, 2, 2, B, B, 1, 1], 5, rng(1));
    const r = ctcGreedyOffline(lp, { vocab: 5, blank: B });
    assert.deepEqual(r.tokens, [3, 3, 2, 1]);
    assert.deepEqual(r.frames, [1, 4, 5, 10]);
  });

  it('streaming equals offline for random chunkings; partial hypotheses only grow', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rand = rng(seed);
      const vocab = 2 + Math.floor(rand() * 30);
      const blank = Math.floor(rand() * vocab);
      const labels = Array.from({ length: 200 }, () => (rand() < 0.6 ? blank : Math.floor(rand() * vocab)));
      const lp = matrix(labels, vocab, rand);
      const dec = new CtcGreedyDecoder({ vocab, blank });
      let at = 0;
      let prev: number[] = [];
      for (const n of randomChunking(labels.length, rand, 0, 17)) {
        dec.push(lp.subarray(at * vocab, (at + n) * vocab), n);
        at += n;
        const now = [...dec.hypothesis.tokens];
        assert.deepEqual(now.slice(0, prev.length), prev, 'a partial never changes what it said');
        prev = now;
      }
      assert.deepEqual({ tokens: [...dec.hypothesis.tokens], frames: [...dec.hypothesis.frames] }, ctcGreedyOffline(lp, { vocab, blank }), `seed ${seed}`);
    }
  });

  it('counts trailing blanks for endpointing, and takeFinal starts a new hypothesis on the same clock', () => {
    const dec = new CtcGreedyDecoder({ vocab: 4, blank: 0 });
    dec.push(matrix([1, 2, 0, 0, 0], 4, rng(2)));
    assert.equal(dec.trailingBlanks, 3);
    assert.deepEqual(dec.takeFinal(), { tokens: [1, 2], frames: [0, 1] });
    dec.push(matrix([2, 2, 0], 4, rng(3)));
    assert.deepEqual(dec.hypothesis, { tokens: [2], frames: [5] }, 'same token right after a final is a new token');
    assert.equal(dec.trailingBlanks, 1);
  });

  it('turns SentencePiece pieces into text', () => {
    const pieces = ['<blk>', '\u2581turn', '\u2581on', '\u2581the', '\u2581li', 'ghts', '<unk>'];
    assert.equal(piecesToText(pieces, [1, 2, 3, 4, 5, 6]), 'turn on the lights');
  });
});
