/**
 * Every Causeway operator is a plain RxJS OperatorFunction that also carries `info`: its
 * algorithmic latency (how far behind its input its output is, by construction) and look-ahead
 * (how much future input one output needs). `chain(...)` and `parallel(...)` compose operators
 * and their declared latency (`.pipe()` keeps only the function); `pipelineLatency` adds up a list.
 */
import { connect, merge, type Observable, type OperatorFunction } from 'rxjs';

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

type AnyOperator = OperatorFunction<any, any> & { readonly info?: OperatorInfo }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An operator's declared info; a plain RxJS operator (map, filter, tap) declares none: 0. */
function infoOf(op: AnyOperator): OperatorInfo {
  return op.info ?? { name: op.name || 'operator', latencyUs: 0, lookaheadUs: 0 };
}

/**
 * `a`, then `b`, ...: one operator that runs them in order (as `.pipe(a, b, ...)` does) and
 * declares their sum: latency and look-ahead add up along a chain.
 */
export function chain<A, B>(a: OperatorFunction<A, B>): StreamOperator<A, B>;
export function chain<A, B, C>(a: OperatorFunction<A, B>, b: OperatorFunction<B, C>): StreamOperator<A, C>;
export function chain<A, B, C, D>(a: OperatorFunction<A, B>, b: OperatorFunction<B, C>, c: OperatorFunction<C, D>): StreamOperator<A, D>;
export function chain<A, B, C, D, E>(a: OperatorFunction<A, B>, b: OperatorFunction<B, C>, c: OperatorFunction<C, D>, d: OperatorFunction<D, E>): StreamOperator<A, E>;
export function chain<A, B, C, D, E, F>(
  a: OperatorFunction<A, B>,
  b: OperatorFunction<B, C>,
  c: OperatorFunction<C, D>,
  d: OperatorFunction<D, E>,
  e: OperatorFunction<E, F>,
): StreamOperator<A, F>;
export function chain(...ops: AnyOperator[]): StreamOperator<unknown, unknown> {
  const infos = ops.map(infoOf);
  const op: OperatorFunction<unknown, unknown> = (source) => ops.reduce((s: Observable<unknown>, o) => s.pipe(o), source);
  return withInfo(op, {
    name: infos.map((i) => i.name).join(' -> '),
    latencyUs: infos.reduce((t, i) => t + i.latencyUs, 0),
    lookaheadUs: infos.reduce((t, i) => t + i.lookaheadUs, 0),
  });
}

/**
 * The same input into every branch (the source subscribed once), their outputs merged in arrival
 * order; declares the slowest branch: an output of the merge is at most that far behind.
 */
export function parallel<I, O>(...branches: OperatorFunction<I, O>[]): StreamOperator<I, O> {
  const infos = branches.map((b) => infoOf(b as AnyOperator));
  // connect(): every branch subscribes before the source starts (a synchronous source would
  // otherwise run through the first branch alone).
  const op: OperatorFunction<I, O> = (source) => source.pipe(connect((shared) => merge(...branches.map((b) => shared.pipe(b)))));
  return withInfo(op, {
    name: `(${infos.map((i) => i.name).join(' | ')})`,
    latencyUs: Math.max(0, ...infos.map((i) => i.latencyUs)),
    lookaheadUs: Math.max(0, ...infos.map((i) => i.lookaheadUs)),
  });
}
