import assert from 'node:assert/strict';
import { condVector, COND_DIM, fromTokens, move, render, SCENES, toTokens, track } from '../../core/models/video-world-scenes.js';

const lum = (c: readonly number[]) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

describe('core/models video-world scenes: the synthetic world', () => {
  it('every object is brighter than every background, and the tracker finds it where it was drawn (every scene)', () => {
    for (let s = 0; s < SCENES.length; s++) {
      assert.ok(lum(SCENES[s].colour) > 1.5 * Math.max(lum(SCENES[s].bg), lum(SCENES[s].bg2)) + 40, SCENES[s].name);
      for (const [x, y] of [[20, 30], [40.5, 12.25], [8, 56]]) {
        const t = track(render(s, x, y))!;
        assert.ok(t && Math.hypot(t.x - x, t.y - y) < 0.75, `${SCENES[s].name} at ${x},${y}: tracked ${JSON.stringify(t)}`);
      }
    }
  });

  it('moves by the scene speed in the commanded direction and stops at the walls', () => {
    const s = SCENES[0];
    assert.deepEqual(move(0, 30, 30, 1, 0), [30 + s.speed, 30]);
    assert.deepEqual(move(0, 30, 30, 0, -1), [30, 30 - s.speed]);
    let [x, y] = [30, 30];
    for (let i = 0; i < 100; i++) [x, y] = move(0, x, y, 1, 1);
    assert.deepEqual([x, y], [64 - s.radius - 1, 64 - s.radius - 1]);
    assert.deepEqual(Array.from(condVector(2, -1, 1)), [0, 0, 1, 0, -1, 1]);
    assert.equal(COND_DIM, SCENES.length + 2);
  });

  it('patch tokens round-trip the frame bytes exactly', () => {
    const rgb = render(1, 33, 21);
    const tokens = toTokens(rgb, 64, 8);
    assert.equal(tokens.length, 64 * 192);
    assert.ok(tokens.every((v) => v >= -1 && v <= 1));
    assert.deepEqual(fromTokens(tokens, 64, 8), rgb);
    // Token 9 is the patch at grid (1, 1): its first value is pixel (8, 8)'s red.
    assert.equal(tokens[9 * 192], Math.fround(rgb[(8 * 64 + 8) * 3] / 127.5 - 1));
  });
});
