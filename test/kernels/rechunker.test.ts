import assert from 'node:assert/strict';
import { BlockFiller, Rechunker, frameOffline } from '../../kernels/rechunker.js';
import { maxAbsDiff, randomSignal, rng } from '../helpers-random.js';
import { chunkings, feed } from './chunking.js';

function collect(r: Rechunker, x: Float32Array, sizes: number[], flush: boolean): { frames: Float32Array[]; indices: number[] } {
  const frames: Float32Array[] = [];
  const indices: number[] = [];
  const sink = (f: Float32Array, i: number): void => {
    assert.equal(f.length, r.frameSize);
    frames.push(f.slice());
    indices.push(i);
  };
  feed(x, sizes, (c) => r.push(c, sink));
  if (flush) r.flush(sink);
  return { frames, indices };
}

describe('kernels/rechunker', () => {
  const configs: [number, number][] = [[8, 8], [8, 1], [100, 30], [512, 128], [1024, 1000]];

  it('streams the same frames as frameOffline for random chunkings', () => {
    const rand = rng(11);
    for (const [frame, hop] of configs) {
      for (let s = 0; s < 2; s++) {
        const x = randomSignal(500 + Math.floor(rand() * 3000), rand);
        const want = frameOffline(x, frame, hop);
        for (const sizes of chunkings(x.length, rand, frame)) {
          const r = new Rechunker(frame, hop);
          const { frames, indices } = collect(r, x, sizes, false);
          assert.equal(frames.length, want.length, `frame ${frame} hop ${hop}`);
          assert.deepEqual(indices, want.map((_, i) => i));
          frames.forEach((f, i) => assert.equal(maxAbsDiff(f, want[i]), 0));
        }
      }
    }
  });

  it('flush zero-pads so every sample appears in a frame, then starts over', () => {
    const rand = rng(12);
    for (const [frame, hop] of configs) {
      for (const n of [1, frame - 1, frame, frame + 1, 3 * frame + 5]) {
        if (n < 1) continue;
        const x = randomSignal(n, rand);
        const r = new Rechunker(frame, hop);
        const { frames } = collect(r, x, chunkings(n, rand, frame)[0], true);
        // Padded to the smallest whole number of hops past the first frame that covers x.
        const needed = n <= frame ? 1 : 1 + Math.ceil((n - frame) / hop);
        const padded = new Float32Array((needed - 1) * hop + frame);
        padded.set(x);
        const want = frameOffline(padded, frame, hop);
        assert.equal(frames.length, needed, `frame ${frame} hop ${hop} n ${n}`);
        frames.forEach((f, i) => assert.equal(maxAbsDiff(f, want[i]), 0));
        // After flush the stream restarts at index 0 with an empty ring.
        const again = collect(r, x, [n], false);
        assert.deepEqual(again.frames.map((f) => Array.from(f)), frameOffline(x, frame, hop).map((f) => Array.from(f)));
        if (again.indices.length > 0) assert.equal(again.indices[0], 0);
      }
    }
  });

  it('flush is a no-op when nothing is pending', () => {
    const r = new Rechunker(4, 2);
    let calls = 0;
    r.flush(() => calls++);
    assert.equal(calls, 0);
    r.push(new Float32Array([1, 2, 3, 4, 5, 6]), () => calls++);
    assert.equal(calls, 2);
    r.flush(() => calls++);
    assert.equal(calls, 2);
  });

  it('reset drops pending samples', () => {
    const r = new Rechunker(4, 2);
    const got: number[][] = [];
    r.push(new Float32Array([9, 9, 9]), (f) => got.push(Array.from(f)));
    r.reset();
    r.push(new Float32Array([1, 2, 3, 4, 5, 6]), (f, i) => got.push([i, ...f]));
    assert.deepEqual(got, [[0, 1, 2, 3, 4], [1, 3, 4, 5, 6]]);
  });

  it('rejects a hop larger than the frame', () => {
    assert.throws(() => new Rechunker(4, 5), /hop/);
    assert.throws(() => new Rechunker(4, 0), /hop/);
  });

  it('BlockFiller: back-to-back blocks equal frameOffline (hop = size) for any chunking, the partial last block zero-padded', () => {
    const rand = rng(21);
    const x = randomSignal(1000, rand);
    for (const sizes of chunkings(x.length, rand, 64)) {
      const f = new BlockFiller(64);
      const blocks: Float32Array[] = [];
      let at = 0;
      for (const n of sizes) {
        for (const b of f.push(x.subarray(at, at + n))) blocks.push(b.slice());
        at += n;
      }
      const real = f.takePartial();
      blocks.push(f.block.slice());
      const ref = frameOffline(x, 64, 64);
      assert.equal(real, 1000 % 64);
      const tail = new Float32Array(64);
      tail.set(x.subarray(ref.length * 64));
      ref.push(tail);
      assert.equal(blocks.length, ref.length);
      blocks.forEach((b, i) => assert.equal(maxAbsDiff(b, ref[i]), 0, `block ${i}`));
      assert.equal(f.takePartial(), 0, 'nothing left');
    }
  });
});
