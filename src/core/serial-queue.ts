/**
 * `serialMap`: the operator shape every model operator uses. Items are processed one at a time
 * (one step in flight per stream, so state updates and output order are kept), through a bounded
 * queue with an explicit overflow policy:
 *
 * - 'drop-oldest' (live sources): the oldest waiting item is dropped and counted in
 *   causeway_frames_dropped_total; the stream keeps up with real time.
 * - 'pause' (files): the shared FlowControl is paused at `capacity` and resumed at half of it.
 *   A source that ignores the pause still cannot grow the queue past twice the capacity: that is a
 *   'queue-overflow' error, never silent growth.
 * - 'error': the first overflow errors the stream with 'queue-overflow'.
 *
 * On completion of the source the queue drains, then `flush` runs, then the output completes.
 * When the source errors (a truncated file, a dropped connection), what it delivered is not
 * lost: the queue drains and `flush` runs as on completion, then the source's error follows.
 * On unsubscribe the queue is cleared and `teardown` runs once (after any in-flight step settles).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { CausewayError } from './errors.js';
import type { FlowControl } from './flow.js';
import { nowMs } from './frames.js';
import { m } from './metrics.js';

export type OverflowPolicy = 'drop-oldest' | 'pause' | 'error';

export interface QueueOptions {
  /** Operator name for metrics and errors. */
  name: string;
  capacity?: number;
  policy?: OverflowPolicy;
  /** Required for policy 'pause'. */
  flow?: FlowControl;
}

export interface SerialWorker<I, O> {
  /** Process one item, emitting any number of outputs. */
  step(item: I, emit: (o: O) => void): Promise<void> | void;
  /** After the source completes and the queue drains. */
  flush?(emit: (o: O) => void): Promise<void> | void;
  /** Always called once, after the last step settled: free native resources here. */
  teardown?(): void;
}

export function serialMap<I, O>(
  open: () => Promise<SerialWorker<I, O>> | SerialWorker<I, O>,
  q: QueueOptions,
): OperatorFunction<I, O> {
  const capacity = q.capacity ?? 64;
  const policy = q.policy ?? 'drop-oldest';
  if (!(capacity >= 1)) throw new CausewayError('invalid-argument', `${q.name}: queue capacity must be >= 1`);
  if (policy === 'pause' && !q.flow) {
    throw new CausewayError('invalid-argument', `${q.name}: queue policy 'pause' needs a FlowControl shared with the source`);
  }
  return (source) =>
    new Observable<O>((subscriber) => {
      const queue: I[] = [];
      let worker: SerialWorker<I, O> | undefined;
      let running = false;
      let sourceDone = false;
      let sourceError: { error: unknown } | undefined;
      let closed = false;
      let tornDown = false;
      const emit = (o: O) => {
        if (closed) return;
        m.framesOut.inc({ operator: q.name });
        const wall = (o as { wallMs?: unknown }).wallMs;
        if (typeof wall === 'number') m.frameAgeMs.observe({ operator: q.name }, nowMs() - wall);
        subscriber.next(o);
      };
      const teardownWorker = () => {
        if (tornDown || running || !worker) return;
        tornDown = true;
        worker.teardown?.();
      };
      const fail = (e: unknown) => {
        if (closed) return;
        closed = true;
        queue.length = 0;
        q.flow?.resume();
        subscriber.error(e);
        teardownWorker();
      };
      const pump = async () => {
        if (running || closed || !worker) return;
        running = true;
        try {
          while (!closed && queue.length > 0) {
            const item = queue.shift()!;
            if (policy === 'pause' && q.flow?.paused && queue.length <= capacity / 2) q.flow.resume();
            await worker.step(item, emit);
          }
          if (!closed && sourceDone) {
            await worker.flush?.(emit);
            closed = true;
            if (sourceError) subscriber.error(sourceError.error);
            else subscriber.complete();
          }
        } catch (e) {
          running = false;
          fail(e);
          return;
        }
        running = false;
        if (closed) teardownWorker();
      };
      const opened = Promise.resolve()
        .then(open)
        .then(
          (w) => {
            worker = w;
            if (closed) teardownWorker();
            else void pump();
          },
          fail,
        );
      void opened;
      const sub = source.subscribe({
        next: (item) => {
          if (closed) return;
          m.framesIn.inc({ operator: q.name });
          if (queue.length >= capacity) {
            if (policy === 'drop-oldest') {
              queue.shift();
              m.drops.inc({ operator: q.name, policy });
            } else if (policy === 'error') {
              fail(new CausewayError('queue-overflow', `${q.name}: queue full (${capacity} items) with policy 'error'`));
              return;
            } else {
              q.flow!.pause();
              if (queue.length >= 2 * capacity) {
                fail(new CausewayError('queue-overflow', `${q.name}: source ignored pause; queue reached ${queue.length} items`));
                return;
              }
            }
          }
          queue.push(item);
          void pump();
        },
        error: (e) => {
          sourceError = { error: e };
          sourceDone = true;
          void pump();
        },
        complete: () => {
          sourceDone = true;
          void pump();
        },
      });
      return () => {
        sub.unsubscribe();
        closed = true;
        queue.length = 0;
        teardownWorker();
      };
    });
}
