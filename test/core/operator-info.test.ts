/**
 * Composing operators with their declared latency: chain() runs them in order and adds latency and
 * look-ahead up; parallel() feeds one input to every branch (even a synchronous source reaches all
 * of them) and declares the slowest. The default session pipeline reports its composed figures
 * (test/server/warm.test.ts).
 */
import assert from 'node:assert/strict';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { chain, parallel, withInfo } from '../../core/operator-info.js';

const delayed = (name: string, latencyUs: number, lookaheadUs: number, f: (x: number) => number) => withInfo(map(f), { name, latencyUs, lookaheadUs });

describe('core/operator-info: chain and parallel', () => {
  it('chain runs the operators in order and declares the sum; a plain RxJS operator declares 0', async () => {
    const c = chain(delayed('double', 1000, 10, (x) => 2 * x), map((x: number) => x + 1), delayed('square', 250, 5, (x) => x * x));
    assert.deepEqual(await lastValueFrom(from([1, 2, 3]).pipe(c, toArray())), [9, 25, 49]);
    assert.equal(c.info.latencyUs, 1250);
    assert.equal(c.info.lookaheadUs, 15);
    assert.match(c.info.name, /^double -> .+ -> square$/);
  });

  it('parallel gives every branch the whole input, even from a synchronous source, and declares the slowest branch', async () => {
    const p = parallel(delayed('a', 100, 0, (x) => x), delayed('b', 700, 30, (x) => -x));
    const got = await lastValueFrom(from([1, 2, 3]).pipe(p, toArray()));
    assert.deepEqual([...got].sort((x, y) => x - y), [-3, -2, -1, 1, 2, 3]);
    assert.equal(p.info.latencyUs, 700);
    assert.equal(p.info.lookaheadUs, 30);
    const whole = chain(delayed('front', 50, 0, (x) => x), p);
    assert.equal(whole.info.latencyUs, 750);
  });
});
