/**
 * `serialMap`: the operator shape every model operator uses. Items are processed one at a time
 * (one step in flight per stream, so state updates and output order are kept), through a bounded
 * queue with an overflow policy:
 *
 * - 'pause' (files): the source's FlowControl is paused at `capacity` and resumed at half of it.
 *   A source that ignores the pause still cannot grow the queue past twice the capacity: that is a
 *   'queue-overflow' error, never silent growth.
 * - 'drop-oldest' (live sources): the oldest waiting item is dropped and counted in
 *   causeway_frames_dropped_total, and the first drop of a stream is logged at warn; the stream
 *   keeps up with real time.
 * - 'error': the first overflow errors the stream with 'queue-overflow'.
 *
 * Without an explicit policy the first item decides: an item from a source that can pause
 * (`flowOf`, e.g. a non-realtime ffmpeg input, through any syncMap/serialMap) gives 'pause' with
 * that source's FlowControl, anything else 'drop-oldest'. A file is then never dropped, however
 * slowly the model loads, and the caller wires nothing. Outputs carry the input's FlowControl on,
 * so queues further down pause the same source.
 *
 * On completion of the source the queue drains, then `flush` runs, then the output completes.
 * When the source errors (a truncated file, a dropped connection), what it delivered is not
 * lost: the queue drains and `flush` runs as on completion, then the source's error follows.
 * On unsubscribe the queue is cleared and `teardown` runs once (after any in-flight step settles).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { CausewayError } from './errors.js';
import { flowOf, tagFlow, type FlowControl } from './flow.js';
import { nowMs } from './frames.js';
import { logger } from './log.js';
import { sharedMetrics } from './metrics.js';

const log = logger('queue');

export type OverflowPolicy = 'drop-oldest' | 'pause' | 'error';

export interface QueueOptions {
  /** Operator name for metrics and errors. */
  name: string;
  capacity?: number;
  /** Default: 'pause' when the items come from a source that can pause, else 'drop-oldest'. */
  policy?: OverflowPolicy;
  /** What 'pause' pauses (default: the FlowControl the items carry from their source). */
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
  if (!(capacity >= 1)) throw new CausewayError('invalid-argument', `${q.name}: queue capacity must be >= 1`);
  return (source) =>
    new Observable<O>((subscriber) => {
      const queue: I[] = [];
      // Decided by the first item (see the header); `holder` is this stream's pause on `flow`.
      let policy: OverflowPolicy | undefined;
      let flow: FlowControl | undefined;
      let upstream: FlowControl | undefined;
      const holder = {};
      let dropLogged = false;
      let worker: SerialWorker<I, O> | undefined;
      let running = false;
      let sourceDone = false;
      let sourceError: { error: unknown } | undefined;
      let closed = false;
      let tornDown = false;
      const emit = (o: O) => {
        if (closed) return;
        tagFlow(o, upstream);
        sharedMetrics.framesOut.inc({ operator: q.name });
        const wall = (o as { wallMs?: unknown }).wallMs;
        if (typeof wall === 'number') sharedMetrics.frameAgeMs.observe({ operator: q.name }, nowMs() - wall);
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
        flow?.resume(holder);
        subscriber.error(e);
        teardownWorker();
      };
      const pump = async () => {
        if (running || closed || !worker) return;
        running = true;
        try {
          while (!closed && queue.length > 0) {
            const item = queue.shift()!;
            if (flow !== undefined && queue.length <= capacity / 2) flow.resume(holder);
            await worker.step(item, emit);
          }
          if (!closed && sourceDone) {
            await worker.flush?.(emit);
            closed = true;
            flow?.resume(holder);
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
          upstream = flowOf(item) ?? upstream;
          if (policy === undefined) {
            flow = q.policy === undefined || q.policy === 'pause' ? q.flow ?? upstream : undefined;
            policy = q.policy ?? (flow !== undefined ? 'pause' : 'drop-oldest');
            if (policy === 'pause' && flow === undefined) {
              fail(new CausewayError('invalid-argument', `${q.name}: queue policy 'pause' needs a source that can pause (a non-realtime ffmpeg input) or a FlowControl shared with the source`));
              return;
            }
          }
          sharedMetrics.framesIn.inc({ operator: q.name });
          if (queue.length >= capacity) {
            if (policy === 'drop-oldest') {
              queue.shift();
              sharedMetrics.drops.inc({ operator: q.name, policy });
              if (!dropLogged) {
                dropLogged = true;
                log.warn(`${q.name}: queue full (${capacity} items), dropping the oldest: the source is live (or the policy was set to 'drop-oldest') and the operator falls behind it; further drops of this stream are counted in causeway_frames_dropped_total{operator="${q.name}"}`);
              }
            } else if (policy === 'error') {
              fail(new CausewayError('queue-overflow', `${q.name}: queue full (${capacity} items) with policy 'error'`));
              return;
            } else {
              flow!.pause(holder);
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
        flow?.resume(holder);
        teardownWorker();
      };
    });
}
