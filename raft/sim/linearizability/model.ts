/**
 * A sequential specification for the linearizability checker: the object's state, and how one
 * operation (with the output the client observed) moves it. Porcupine's `Model` has the same
 * role; ours returns `ILLEGAL` instead of a boolean so that the next state and the verdict come
 * from one call.
 */

/** Returned by `Model.step` when the operation's observed output is impossible in `state`. */
export const ILLEGAL: unique symbol = Symbol("illegal");
export type Illegal = typeof ILLEGAL;

/**
 * One operation of a client history.
 * `returnMs` undefined or null: the call never returned (timeout, crashed client). Such an
 * operation "maybe happened": it may take effect at any instant after `callMs`, or never.
 */
export interface Operation<Op extends string = string, In = unknown, Out = unknown> {
  clientId: string | number;
  op: Op;
  input: In;
  output?: Out;
  callMs: number;
  returnMs?: number | null;
}

export interface Model<S, O extends Operation> {
  init(): S;
  /**
   * The state after `op` in `state`, or ILLEGAL if the output `op` observed cannot happen in
   * `state`. `pending` operations have no output: any output is acceptable.
   */
  step(state: S, op: O, pending: boolean): S | Illegal;
  /** Equal states must give equal keys: the search memoizes on (linearized set, state key). */
  stateKey(state: S): string;
  /** P-compositionality: operations on different partitions are independent objects. */
  partitionKey(op: O): string;
  /** Operations that cannot change the state may be dropped when pending. */
  isReadOnly(op: O): boolean;
  describeOperation(op: O): string;
  describeState(state: S): string;
}

export function isPending(op: Operation): boolean {
  return op.returnMs === undefined || op.returnMs === null;
}
