/**
 * The client history of a chaos run: every operation a workload client issued, with its input,
 * its output and when it was called and returned (Herlihy & Wing's history, as the
 * linearizability checker reads it). An operation that failed or timed out keeps no return time:
 * its outcome is unknown, so it "maybe happened" at any instant after its call.
 *
 * Time comes from an injected `now()` so the recorder (and what is computed from it) runs under
 * a fake clock in tests; `bosun chaos` passes the monotonic clock (`performance.now()`).
 */
import type { KvOperation } from "../../raft/sim/linearizability/kv-model.ts";

export type Now = () => number;

interface OpBase {
  clientId: number;
  key: string;
  callMs: number;
  /** Undefined: no answer (error or timeout); the outcome is unknown. */
  returnMs?: number;
  /** Why the call failed, for the report. */
  error?: string;
  /** When the failure came back (the op stays pending: it may still take effect later). */
  failedMs?: number;
}

export interface PutOp extends OpBase {
  op: "put";
  value: string;
  /** The store revision the put was applied at, from its response. */
  revision?: number;
}

export interface GetOp extends OpBase {
  op: "get";
  /** The value read; undefined when the key was absent. */
  value?: string;
}

export type ChaosOp = PutOp | GetOp;

/** Most operations one run records: a runaway workload must not exhaust memory. */
export const MAX_RECORDED_OPS = 2_000_000;

export class HistoryRecorder {
  private readonly recorded: ChaosOp[] = [];
  /** Return times of acknowledged puts, in order (the clock is monotonic). */
  private readonly putAcks: number[] = [];

  constructor(readonly now: Now) {}

  /** Records the call of an operation; complete it with `acked` or `failed`. */
  invoke<O extends ChaosOp>(op: Omit<O, "callMs" | "returnMs" | "error" | "failedMs">): O {
    if (this.recorded.length >= MAX_RECORDED_OPS) {
      throw new Error(`history full: ${MAX_RECORDED_OPS} operations recorded`);
    }
    const entry = { ...op, callMs: this.now() } as O;
    this.recorded.push(entry);
    return entry;
  }

  /** The operation returned: a put with its revision, a get with the value it read. */
  acked(op: ChaosOp, result: { revision?: number; value?: string }): void {
    op.returnMs = this.now();
    if (op.op === "put") this.putAcks.push(op.returnMs);
    if (op.op === "put" && result.revision !== undefined) op.revision = result.revision;
    if (op.op === "get" && result.value !== undefined) op.value = result.value;
  }

  /** The operation failed or timed out: it stays pending (it may or may not have happened). */
  failed(op: ChaosOp, error: unknown): void {
    op.error = error instanceof Error ? error.message : String(error);
    op.failedMs = this.now();
  }

  get ops(): readonly ChaosOp[] {
    return this.recorded;
  }

  /** Puts acknowledged since `sinceMs` (by return time): the workload's progress. */
  ackedPutsSince(sinceMs: number): number {
    let lo = 0;
    let hi = this.putAcks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.putAcks[mid]! < sinceMs) lo = mid + 1;
      else hi = mid;
    }
    return this.putAcks.length - lo;
  }
}

export function isAcked(op: ChaosOp): boolean {
  return op.returnMs !== undefined;
}

/** The history in the checker's terms (pending operations have no return time). */
export function toKvOperations(ops: readonly ChaosOp[]): KvOperation[] {
  return ops.map((op): KvOperation => {
    const base = { clientId: op.clientId, callMs: op.callMs, returnMs: op.returnMs ?? null };
    if (op.op === "put") {
      return { ...base, op: "put", input: { key: op.key, value: op.value }, output: null };
    }
    return { ...base, op: "get", input: { key: op.key }, output: op.value };
  });
}
