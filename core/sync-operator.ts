/**
 * `syncMap`: the operator shape for synchronous kernels (rechunk, resample, STFT, ...). State is
 * created per subscription by `open`, outputs are emitted as they are produced, `flush` runs when
 * the source completes or errors (before the error is passed on: nothing delivered is lost), and `teardown` runs once however the subscription ends. No queue is
 * needed: the work is done inside the source's `next`. Outputs carry their input's FlowControl
 * (core/flow.ts), so a queue after this operator can still pause the source.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { flowOf, tagFlow, type FlowControl } from './flow.js';
import { sharedMetrics } from './metrics.js';
import { nowMs } from './frames.js';

export interface SyncWorker<I, O> {
  step(item: I, emit: (o: O) => void): void;
  flush?(emit: (o: O) => void): void;
  teardown?(): void;
}

export function syncMap<I, O extends { wallMs: number }>(name: string, open: () => SyncWorker<I, O>): OperatorFunction<I, O> {
  return (source) =>
    new Observable<O>((subscriber) => {
      const worker = open();
      let done = false;
      let upstream: FlowControl | undefined;
      const emit = (o: O) => {
        tagFlow(o, upstream);
        sharedMetrics.framesOut.inc({ operator: name });
        sharedMetrics.frameAgeMs.observe({ operator: name }, nowMs() - o.wallMs);
        subscriber.next(o);
      };
      const finish = () => {
        if (done) return;
        done = true;
        worker.teardown?.();
      };
      const sub = source.subscribe({
        next: (item) => {
          sharedMetrics.framesIn.inc({ operator: name });
          upstream = flowOf(item) ?? upstream;
          try {
            worker.step(item, emit);
          } catch (e) {
            subscriber.error(e);
            finish();
          }
        },
        error: (e) => {
          // What the source delivered before failing is still flushed out, then the error follows.
          try {
            worker.flush?.(emit);
          } catch {
            // the source's error is the one to report
          }
          subscriber.error(e);
          finish();
        },
        complete: () => {
          try {
            worker.flush?.(emit);
            subscriber.complete();
          } catch (e) {
            subscriber.error(e);
          }
          finish();
        },
      });
      return () => {
        sub.unsubscribe();
        finish();
      };
    });
}
