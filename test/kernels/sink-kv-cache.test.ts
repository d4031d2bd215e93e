import assert from 'node:assert/strict';
import { SinkKvCache, sinkWindowFrames } from '../../kernels/sink-kv-cache.js';

/** Deterministic content of frame f, layer l, token t, element i (K or V): any frame is recognisable from its values. */
function value(kind: number, f: number, l: number, t: number, i: number): number {
  return Math.sin(1.3 * f + 0.7 * l + 0.31 * t + 0.17 * i + kind) + 0.001 * f;
}

function frameKv(c: SinkKvCache, f: number): { k: Float32Array; v: Float32Array } {
  const k = new Float32Array(c.layers * c.frameSize);
  const v = new Float32Array(k.length);
  for (let l = 0; l < c.layers; l++) {
    for (let t = 0; t < c.tokensPerFrame; t++) {
      for (let i = 0; i < c.width; i++) {
        k[(l * c.tokensPerFrame + t) * c.width + i] = value(0, f, l, t, i);
        v[(l * c.tokensPerFrame + t) * c.width + i] = value(1, f, l, t, i);
      }
    }
  }
  return { k, v };
}

/** Rotary position embedding of one token vector (pairs (2i, 2i+1) turned by pos * 10000^(-2i/d)). */
function rope(x: Float32Array, pos: number): Float32Array {
  const d = x.length;
  const out = new Float32Array(d);
  for (let i = 0; i < d / 2; i++) {
    const a = pos * Math.pow(10000, (-2 * i) / d);
    out[2 * i] = x[2 * i] * Math.cos(a) - x[2 * i + 1] * Math.sin(a);
    out[2 * i + 1] = x[2 * i] * Math.sin(a) + x[2 * i + 1] * Math.cos(a);
  }
  return out;
}

/** Single-head softmax attention of q (at position qPos) over keys/values given as (position, K, V) tokens, keys rotated by their positions. */
function attend(q: Float32Array, qPos: number, tokens: { pos: number; k: Float32Array; v: Float32Array }[]): Float32Array {
  const qr = rope(q, qPos);
  const scores = tokens.map(({ pos, k }) => {
    const kr = rope(k, pos);
    let s = 0;
    for (let i = 0; i < kr.length; i++) s += qr[i] * kr[i];
    return s / Math.sqrt(kr.length);
  });
  const max = Math.max(...scores);
  const w = scores.map((s) => Math.exp(s - max));
  const z = w.reduce((a, b) => a + b, 0);
  const out = new Float32Array(q.length);
  tokens.forEach(({ v }, j) => {
    for (let i = 0; i < out.length; i++) out[i] += (w[j] / z) * v[i];
  });
  return out;
}

describe('kernels/sink-kv-cache', () => {
  it('sinkWindowFrames: the first S frames and the last W after them', () => {
    assert.deepEqual(sinkWindowFrames(0, 2, 3), []);
    assert.deepEqual(sinkWindowFrames(1, 2, 3), [0]);
    assert.deepEqual(sinkWindowFrames(4, 2, 3), [0, 1, 2, 3]);
    assert.deepEqual(sinkWindowFrames(5, 2, 3), [0, 1, 2, 3, 4]);
    assert.deepEqual(sinkWindowFrames(6, 2, 3), [0, 1, 3, 4, 5]);
    assert.deepEqual(sinkWindowFrames(1000, 2, 3), [0, 1, 997, 998, 999]);
    assert.deepEqual(sinkWindowFrames(7, 0, 3), [4, 5, 6]);
  });

  for (const [S, W] of [[2, 5], [1, 8], [0, 4], [3, 1]] as const) {
    it(`S=${S}, W=${W}: each position holds the frame the offline list has there, through many wraps of the ring, in the same arrays`, () => {
      const c = new SinkKvCache({ layers: 3, sinkFrames: S, windowFrames: W, tokensPerFrame: 2, width: 4 });
      const keys = c.keys;
      for (let n = 1; n <= 300; n++) {
        const { k, v } = frameKv(c, n - 1);
        c.push(k, v);
        const want = sinkWindowFrames(n, S, W);
        assert.equal(c.queryPosition(), want.length);
        const order = c.slotsInOrder();
        assert.deepEqual(order.map((s) => c.frameOf[s]), want, `after ${n} frames`);
        for (let p = 0; p < want.length; p++) {
          for (let l = 0; l < c.layers; l++) {
            const at = c.offset(l, order[p]);
            assert.equal(c.keys[at + 5], Math.fround(value(0, want[p], l, 1, 1)));
            assert.equal(c.values[at + 2], Math.fround(value(1, want[p], l, 0, 2)));
          }
        }
      }
      assert.equal(c.keys, keys, 'never reallocated');
      assert.equal(c.keys.length, 3 * (S + W) * 2 * 4);
    });
  }

  it('attention over the ring (rotary by slot positions) equals attention recomputed over [sinks + last W frames], at frame counts that wrap the ring many times', () => {
    const S = 2;
    const W = 6;
    const T = 3;
    const d = 8;
    const c = new SinkKvCache({ layers: 2, sinkFrames: S, windowFrames: W, tokensPerFrame: T, width: d });
    const checkAt = new Set([1, 2, 5, 8, 9, 50, 1001, 4007]);
    let worst = 0;
    for (let n = 1; n <= 4007; n++) {
      const { k, v } = frameKv(c, n - 1);
      c.push(k, v);
      if (!checkAt.has(n)) continue;
      const q = Float32Array.from({ length: d }, (_, i) => Math.cos(0.9 * i + n));
      for (let l = 0; l < c.layers; l++) {
        // Streaming: straight from the slots, in physical order, each key at its slot's position.
        const ring: { pos: number; k: Float32Array; v: Float32Array }[] = [];
        for (let s = 0; s < c.slots; s++) {
          if (c.positions[s] < 0) continue;
          for (let t = 0; t < T; t++) {
            const at = c.offset(l, s) + t * d;
            ring.push({ pos: c.positions[s] * T + t, k: c.keys.subarray(at, at + d), v: c.values.subarray(at, at + d) });
          }
        }
        // Offline: the visible frames rebuilt from scratch, positions 0, 1, ... in order.
        const offline: { pos: number; k: Float32Array; v: Float32Array }[] = [];
        sinkWindowFrames(n, S, W).forEach((f, p) => {
          for (let t = 0; t < T; t++) {
            offline.push({
              pos: p * T + t,
              k: Float32Array.from({ length: d }, (_, i) => value(0, f, l, t, i)),
              v: Float32Array.from({ length: d }, (_, i) => value(1, f, l, t, i)),
            });
          }
        });
        const qPos = c.queryPosition() * T;
        const a = attend(q, qPos, ring);
        const b = attend(q, qPos, offline);
        for (let i = 0; i < d; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
    }
    assert.ok(worst <= 1e-5, `max abs difference ${worst}`);
  });

  it('write() re-caches a slot in place; reset() empties; wrong sizes are refused', () => {
    const c = new SinkKvCache({ layers: 2, sinkFrames: 1, windowFrames: 2, tokensPerFrame: 2, width: 2 });
    for (let f = 0; f < 5; f++) c.push(frameKv(c, f).k, frameKv(c, f).v);
    const before = c.positions.slice();
    c.write(1, 2, new Float32Array(4).fill(7), new Float32Array(4).fill(8));
    assert.deepEqual([...c.keys.subarray(c.offset(1, 2), c.offset(1, 2) + 4)], [7, 7, 7, 7]);
    assert.deepEqual([...c.values.subarray(c.offset(1, 2), c.offset(1, 2) + 4)], [8, 8, 8, 8]);
    assert.deepEqual(c.positions, before);
    assert.throws(() => c.push(new Float32Array(3), new Float32Array(8)), /expected \[layers 2, T 2, width 2\] = 8 floats of K and of V, got 3 and 8/);
    assert.throws(() => c.write(0, 0, new Float32Array(3), new Float32Array(4)), /expected 4 floats/);
    assert.throws(() => c.write(2, 0, new Float32Array(4), new Float32Array(4)), /layer 2 is not in 0\.\.1/);
    assert.throws(() => c.write(0, -1, new Float32Array(4), new Float32Array(4)), /slot -1 is not in 0\.\.2/);
    const fresh = new SinkKvCache({ layers: 1, sinkFrames: 1, windowFrames: 1, tokensPerFrame: 1, width: 1 });
    assert.throws(() => fresh.write(0, 1, new Float32Array(1), new Float32Array(1)), /slot 1 holds no frame yet/);
    assert.throws(() => new SinkKvCache({ layers: 1, sinkFrames: 1, windowFrames: 0, tokensPerFrame: 1, width: 1 }), /windowFrames must be a positive integer/);
    c.reset();
    assert.equal(c.queryPosition(), 0);
    assert.deepEqual([...c.positions], [-1, -1, -1]);
    assert.equal(c.nextSlot(), 0);
  });
});
