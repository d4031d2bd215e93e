/**
 * Every Causeway operator is a plain RxJS OperatorFunction that also carries `info`: its
 * algorithmic latency (how far behind its input its output is, by construction) and look-ahead
 * (how much future input one output needs). A pipeline adds them up with `pipelineLatency`.
 */
import type { OperatorFunction } from 'rxjs';

export interface OperatorInfo {
  readonly name: string;
  /** Algorithmic latency in microseconds (buffering by construction, not compute time). */
  readonly latencyUs: number;
  /** Look-ahead in microseconds (future input needed before an output can be produced). */
  readonly lookaheadUs: number;
}

export type StreamOperator<I, O> = OperatorFunction<I, O> & { readonly info: OperatorInfo };

export function withInfo<I, O>(op: OperatorFunction<I, O>, info: OperatorInfo): StreamOperator<I, O> {
  return Object.assign(op, { info });
}

/** Sum of the declared latencies of a chain of operators, in microseconds. */
export function pipelineLatency(ops: readonly { info: OperatorInfo }[]): { latencyUs: number; lookaheadUs: number } {
  return ops.reduce(
    (acc, op) => ({ latencyUs: acc.latencyUs + op.info.latencyUs, lookaheadUs: acc.lookaheadUs + op.info.lookaheadUs }),
    { latencyUs: 0, lookaheadUs: 0 },
  );
}
