import assert from 'node:assert/strict';
import { FrequencyDelayLine, PartitionPlan, PartitionedConvolver, convolveOffline } from '../../kernels/partitioned-conv.js';
import { maxAbsDiff, randomSignal, rng } from '../helpers-random.js';
import { chunkings, concat, feed } from './chunking.js';

function stream(h: Float32Array, block: number, x: Float32Array, sizes: number[]): Float32Array {
  const c = new PartitionedConvolver(h, block);
  const parts: Float32Array[] = [];
  feed(x, sizes, (chunk) => {
    const y = c.push(chunk);
    assert.equal(y.length, chunk.length, 'one output sample per input sample');
    parts.push(y.slice());
  });
  parts.push(c.flush());
  return concat(parts);
}

describe('kernels/partitioned-conv', () => {
  it('convolveOffline is the textbook sum', () => {
    const y = convolveOffline(Float32Array.of(1, 2, 3), Float32Array.of(1, -1));
    assert.deepEqual(Array.from(y), [1, 1, 1, -3]);
    assert.equal(convolveOffline(new Float32Array(0), Float32Array.of(1)).length, 0);
  });

  it('streaming == direct convolution (delayed by exactly B) for random signals, filters and chunkings', () => {
    const rand = rng(51);
    // Filter lengths below, at and above multiples of B, including a single tap and a filter shorter than B.
    const cases: [number, number][] = [[128, 558], [64, 512], [64, 513], [32, 1], [256, 100], [16, 47]];
    for (const [block, taps] of cases) {
      const h = randomSignal(taps, rand).map((v) => v / Math.sqrt(taps));
      const x = randomSignal(3000 + Math.floor(rand() * 3000), rand);
      const want = convolveOffline(x, h);
      for (const sizes of chunkings(x.length, rand, block)) {
        const got = stream(h, block, x, sizes);
        assert.equal(got.length, block + want.length, `B=${block} L=${taps}: length`);
        for (let t = 0; t < block; t++) assert.equal(got[t], 0, 'the first B outputs are the latency');
        const err = maxAbsDiff(got.subarray(block), want);
        assert.ok(err < 2e-5, `B=${block} L=${taps}: max error ${err}`);
      }
    }
  });

  it('declares the latency it has: an impulse at t comes out at t + B', () => {
    const h = Float32Array.of(1);
    for (const block of [4, 64, 128]) {
      const c = new PartitionedConvolver(h, block);
      assert.equal(c.latency, block);
      const x = new Float32Array(5 * block);
      x[7] = 1;
      const y = c.push(x);
      for (let t = 0; t < y.length; t++) assert.ok(Math.abs(y[t] - (t === 7 + block ? 1 : 0)) < 1e-6, `B=${block} t=${t}: ${y[t]}`);
    }
  });

  it('reset returns to the initial state; flush leaves it reset', () => {
    const rand = rng(52);
    const h = randomSignal(300, rand);
    const x = randomSignal(2000, rand);
    const c = new PartitionedConvolver(h, 64);
    c.push(randomSignal(777, rand));
    c.reset();
    const a = concat([c.push(x).slice(), c.flush()]);
    c.push(randomSignal(99, rand));
    c.flush();
    const b = concat([c.push(x).slice(), c.flush()]);
    assert.ok(maxAbsDiff(a, b) === 0);
    assert.ok(maxAbsDiff(a.subarray(64), convolveOffline(x, h)) < 2e-5);
  });

  it('one delay line serves several filters (what the binaural renderer does)', () => {
    const rand = rng(53);
    const plan = new PartitionPlan({ blockSize: 32, maxFilterLength: 200 });
    assert.equal(plan.partitions, 7);
    const fdl = new FrequencyDelayLine(plan);
    const hs = [randomSignal(200, rand), randomSignal(150, rand)];
    const filters = hs.map((h, i) => {
      const f = plan.newFilter();
      plan.setFilter(f, h, i === 0 ? 1 : 0.5);
      return f;
    });
    const x = randomSignal(32 * 20, rand);
    const outs = hs.map(() => new Float32Array(x.length));
    const spec = new Float32Array(plan.spectrumSize);
    for (let k = 0; k < 20; k++) {
      fdl.pushBlock(x, k * 32);
      filters.forEach((f, i) => {
        plan.accumulate(fdl, f, spec);
        plan.inverse(spec, outs[i].subarray(k * 32));
      });
    }
    assert.ok(maxAbsDiff(outs[0], convolveOffline(x, hs[0]).subarray(0, x.length)) < 2e-5);
    assert.ok(maxAbsDiff(outs[1], convolveOffline(x, hs[1]).map((v) => v * 0.5).subarray(0, x.length)) < 2e-5);
    assert.throws(() => plan.setFilter(plan.newFilter(), new Float32Array(201)), /at most 200/);
    assert.throws(() => new PartitionPlan({ blockSize: 100, maxFilterLength: 10 }), /power of two/);
  });

  it('allocates nothing per push in steady state (the output is a reused view)', () => {
    const c = new PartitionedConvolver(randomSignal(512, rng(54)), 128);
    const chunk = randomSignal(960, rng(55));
    const first = c.push(chunk);
    const second = c.push(chunk);
    assert.equal(first.buffer, second.buffer);
    assert.equal(first, second, 'same view object for the same length');
  });
});
