import assert from 'node:assert/strict';
import { Subject, lastValueFrom, toArray } from 'rxjs';
import { CausewayError } from '../../core/errors.js';
import { FlowControl, flowOf, tagFlow } from '../../core/flow.js';
import { setLogSink } from '../../core/log.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { serialMap, type SerialWorker } from '../../core/serial-queue.js';
import { syncMap } from '../../core/sync-operator.js';

/** A worker whose steps wait until released, to hold items in the queue. */
function gated() {
  const gates: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let tornDown = 0;
  const worker: SerialWorker<number, number> = {
    async step(item, emit) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => gates.push(r));
      inFlight--;
      emit(item * 10);
    },
    flush(emit) {
      emit(-1);
    },
    teardown() {
      tornDown++;
    },
  };
  const releaseAll = async () => {
    while (gates.length) {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { worker, releaseAll, stats: () => ({ maxInFlight, tornDown, waiting: gates.length }) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('core/serial-queue', () => {
  it('keeps order, runs one step at a time, flushes at completion and tears down once', async () => {
    const g = gated();
    const src = new Subject<number>();
    const out = lastValueFrom(src.pipe(serialMap(() => g.worker, { name: 't1', capacity: 100 }), toArray()));
    for (let i = 1; i <= 5; i++) src.next(i);
    src.complete();
    for (let i = 0; i < 10; i++) {
      await tick();
      await g.releaseAll();
    }
    assert.deepEqual(await out, [10, 20, 30, 40, 50, -1]);
    assert.equal(g.stats().maxInFlight, 1);
    assert.equal(g.stats().tornDown, 1);
  });

  it("'drop-oldest' drops the oldest waiting items and counts them", async () => {
    const g = gated();
    const src = new Subject<number>();
    const before = (await metricValue(sharedMetrics.drops, { operator: 't2', policy: 'drop-oldest' }));
    const out = lastValueFrom(src.pipe(serialMap(() => g.worker, { name: 't2', capacity: 2, policy: 'drop-oldest' }), toArray()));
    src.next(1);
    await tick(); // 1 is now in flight
    for (let i = 2; i <= 6; i++) src.next(i); // queue holds 2 at most: 5, 6 survive
    src.complete();
    for (let i = 0; i < 10; i++) {
      await tick();
      await g.releaseAll();
    }
    assert.deepEqual(await out, [10, 50, 60, -1]);
    assert.equal((await metricValue(sharedMetrics.drops, { operator: 't2', policy: 'drop-oldest' })) - before, 3);
  });

  it("'pause' pauses the shared flow at capacity, resumes at half, and errors if the source ignores it", async () => {
    const g = gated();
    const flow = new FlowControl();
    const changes: boolean[] = [];
    flow.onChange((p) => changes.push(p));
    const src = new Subject<number>();
    const out = lastValueFrom(src.pipe(serialMap(() => g.worker, { name: 't3', capacity: 4, policy: 'pause', flow }), toArray()));
    src.next(0);
    await tick();
    for (let i = 1; i <= 5; i++) src.next(i);
    assert.equal(flow.paused, true);
    src.complete();
    for (let i = 0; i < 10; i++) {
      await tick();
      await g.releaseAll();
    }
    assert.deepEqual(await out, [0, 10, 20, 30, 40, 50, -1], 'nothing lost');
    assert.deepEqual(changes, [true, false]);

    const g2 = gated();
    const src2 = new Subject<number>();
    const out2 = lastValueFrom(src2.pipe(serialMap(() => g2.worker, { name: 't3b', capacity: 2, policy: 'pause', flow: new FlowControl() })));
    src2.next(0);
    await tick();
    for (let i = 1; i <= 5; i++) src2.next(i);
    await assert.rejects(out2, (e: unknown) => e instanceof CausewayError && e.code === 'queue-overflow');
    await g2.releaseAll();
    await tick();
    assert.equal(g2.stats().tornDown, 1);
  });

  it("'error' fails the stream on the first overflow", async () => {
    const g = gated();
    const src = new Subject<number>();
    const out = lastValueFrom(src.pipe(serialMap(() => g.worker, { name: 't4', capacity: 1, policy: 'error' })));
    src.next(1);
    await tick();
    src.next(2);
    src.next(3);
    await assert.rejects(out, /queue full \(1 items\) with policy 'error'/);
    await g.releaseAll();
  });

  it("policy 'pause' on a source that cannot pause, without a FlowControl, fails the stream with one clear error", async () => {
    const g = gated();
    const src = new Subject<number>();
    const out = lastValueFrom(src.pipe(serialMap(() => g.worker, { name: 't5', policy: 'pause' })));
    src.next(1);
    await assert.rejects(out, (e: unknown) => e instanceof CausewayError && e.code === 'invalid-argument' && /needs a source that can pause/.test(e.message));
    await g.releaseAll();
  });

  it('without a policy, items from a source that can pause pause it through a syncMap: nothing dropped, outputs carry the flow on', async () => {
    const g = gated();
    const flow = new FlowControl();
    const changes: boolean[] = [];
    flow.onChange((p) => changes.push(p));
    const src = new Subject<{ v: number; wallMs: number }>();
    const before = (await metricValue(sharedMetrics.drops, { operator: 't8', policy: 'drop-oldest' }));
    const worker: SerialWorker<{ v: number; wallMs: number }, { v: number }> = {
      step: (item, emit) => g.worker.step(item.v, (v) => emit({ v })),
    };
    const outputs: { v: number }[] = [];
    const out = lastValueFrom(
      src.pipe(
        syncMap<{ v: number; wallMs: number }, { v: number; wallMs: number }>('t8-double', () => ({ step: (x, emit) => emit({ v: x.v * 2, wallMs: x.wallMs }) })),
        serialMap(() => worker, { name: 't8', capacity: 4 }),
        toArray(),
      ),
    ).then((xs) => outputs.push(...xs));
    src.next(tagFlow({ v: 0, wallMs: 0 }, flow));
    await tick();
    for (let i = 1; i <= 5; i++) src.next(tagFlow({ v: i, wallMs: 0 }, flow));
    assert.equal(flow.paused, true, 'the source is paused at capacity');
    src.complete();
    for (let i = 0; i < 10; i++) {
      await tick();
      await g.releaseAll();
    }
    await out;
    assert.deepEqual(outputs.map((o) => o.v), [0, 20, 40, 60, 80, 100], 'nothing lost');
    assert.equal((await metricValue(sharedMetrics.drops, { operator: 't8', policy: 'drop-oldest' })) - before, 0);
    assert.deepEqual(changes, [true, false]);
    assert.ok(outputs.every((o) => flowOf(o) === flow), 'outputs carry the source flow');
  });

  it("two queues on one source do not resume each other's pause", () => {
    const flow = new FlowControl();
    const a = {};
    const b = {};
    flow.pause(a);
    flow.pause(b);
    flow.resume(a);
    assert.equal(flow.paused, true, 'b still holds it');
    flow.resume(b);
    assert.equal(flow.paused, false);
  });

  it("without a policy, untagged items (a live source) drop the oldest, and the first drop of a stream is logged once at warn", async () => {
    const lines: { level: string; line: string }[] = [];
    const prev = setLogSink((level, line) => lines.push({ level, line }));
    const g = gated();
    const src = new Subject<number>();
    try {
      const before = (await metricValue(sharedMetrics.drops, { operator: 't9', policy: 'drop-oldest' }));
      const out = lastValueFrom(src.pipe(serialMap(() => g.worker, { name: 't9', capacity: 2 }), toArray()));
      src.next(1);
      await tick();
      for (let i = 2; i <= 8; i++) src.next(i);
      src.complete();
      for (let i = 0; i < 10; i++) {
        await tick();
        await g.releaseAll();
      }
      assert.deepEqual(await out, [10, 70, 80, -1]);
      assert.equal((await metricValue(sharedMetrics.drops, { operator: 't9', policy: 'drop-oldest' })) - before, 5);
      const warned = lines.filter((l) => l.line.includes('t9:'));
      assert.equal(warned.length, 1, JSON.stringify(lines));
      assert.equal(warned[0]!.level, 'warn');
      assert.match(warned[0]!.line, /dropping the oldest.*causeway_frames_dropped_total\{operator="t9"\}/);
    } finally {
      setLogSink(prev);
      src.complete();
      await g.releaseAll();
    }
  });

  it('unsubscribing with a step in flight tears down after the step settles, and emits nothing more', async () => {
    const g = gated();
    const src = new Subject<number>();
    const seen: number[] = [];
    const sub = src.pipe(serialMap(() => g.worker, { name: 't6' })).subscribe((v) => seen.push(v));
    src.next(1);
    src.next(2);
    await tick();
    sub.unsubscribe();
    assert.equal(g.stats().tornDown, 0, 'not while the step runs');
    await g.releaseAll();
    await tick();
    assert.equal(g.stats().tornDown, 1);
    assert.deepEqual(seen, []);
  });

  it('a source error loses nothing: the queue drains and flushes, then the error follows', async () => {
    const g = gated();
    const src = new Subject<number>();
    const seen: number[] = [];
    let error: unknown;
    src.pipe(serialMap(() => g.worker, { name: 't7' })).subscribe({ next: (v) => seen.push(v), error: (e) => (error = e) });
    src.next(1);
    src.next(2);
    src.error(new Error('truncated'));
    for (let i = 0; i < 10; i++) {
      await tick();
      await g.releaseAll();
    }
    assert.deepEqual(seen, [10, 20, -1]);
    assert.match(String(error), /truncated/);
    assert.equal(g.stats().tornDown, 1);
  });
});
