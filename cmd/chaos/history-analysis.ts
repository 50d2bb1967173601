/**
 * What a chaos run's history says about the store, checked three ways:
 * - linearizability of the client history, per key (Wing–Gong search; failed or timed-out
 *   operations are pending and may have happened at any instant after their call, or never);
 * - lost writes: an acknowledged put whose value never appears in the store's own history of
 *   the key (every revision, read back with a watch from revision 1 after the run);
 * - duplicated writes: one unique value at two revisions, i.e. one client write applied twice
 *   (what client sessions exist to prevent across a failover, Raft dissertation §6.3).
 * Plus two consistency checks that should never fire: a value in the store that no client wrote
 * (phantom), and an acknowledged put whose reply named a revision other than the one the store
 * history holds it at.
 *
 * Pure: the history and the store's events in, a verdict out.
 */
import { checkKvHistory, type SearchBudget } from "../../raft/sim/linearizability/checker.ts";
import { type ChaosOp, isAcked, type PutOp, toKvOperations } from "./history.ts";

/** One put as the store applied it (a watch event). */
export interface StoreWrite {
  key: string;
  value: string;
  revision: number;
}

export interface WriteRef {
  key: string;
  value: string;
  /** The revision the client was told (lost, mismatched) or the store holds (duplicated). */
  revisions: number[];
}

export type LinearizabilityVerdict =
  | { linearizable: true }
  | { linearizable: false; key: string; explanation: string }
  | { linearizable: "unknown"; reason: string };

export interface HistoryVerdict {
  linearizability: LinearizabilityVerdict;
  lost: WriteRef[];
  duplicated: WriteRef[];
  phantom: WriteRef[];
  revisionMismatch: WriteRef[];
}

export interface AnomalyCounts {
  lost: number;
  duplicated: number;
  phantom: number;
  revisionMismatch: number;
}

export function countAnomalies(v: HistoryVerdict): AnomalyCounts {
  return {
    lost: v.lost.length,
    duplicated: v.duplicated.length,
    phantom: v.phantom.length,
    revisionMismatch: v.revisionMismatch.length,
  };
}

export function isClean(v: HistoryVerdict): boolean {
  const c = countAnomalies(v);
  return (
    v.linearizability.linearizable === true &&
    c.lost + c.duplicated + c.phantom + c.revisionMismatch === 0
  );
}

export function checkLinearizability(
  ops: readonly ChaosOp[],
  budget?: SearchBudget,
): LinearizabilityVerdict {
  const result = checkKvHistory(toKvOperations(ops), budget);
  if (result.ok === true) return { linearizable: true };
  if (result.ok === "unknown") return { linearizable: "unknown", reason: result.reason };
  return { linearizable: false, key: result.key, explanation: result.explanation };
}

/** Lost, duplicated, phantom and misplaced writes: the client history against the store's. */
export function compareWithStore(
  ops: readonly ChaosOp[],
  storeWrites: readonly StoreWrite[],
): Omit<HistoryVerdict, "linearizability"> {
  // (key, value) → every revision the store applied it at
  const applied = new Map<string, StoreWrite[]>();
  for (const w of storeWrites) {
    const id = writeId(w.key, w.value);
    const list = applied.get(id);
    if (list === undefined) applied.set(id, [w]);
    else list.push(w);
  }
  const issued = new Set<string>();
  const lost: WriteRef[] = [];
  const revisionMismatch: WriteRef[] = [];
  for (const op of ops) {
    if (op.op !== "put") continue;
    issued.add(writeId(op.key, op.value));
    if (!isAcked(op)) continue; // pending: may or may not have been applied
    const found = applied.get(writeId(op.key, op.value));
    if (found === undefined) {
      lost.push(ref(op, op.revision === undefined ? [] : [op.revision]));
    } else if (
      op.revision !== undefined &&
      found.length === 1 &&
      found[0]!.revision !== op.revision
    ) {
      revisionMismatch.push(ref(op, [op.revision, found[0]!.revision]));
    }
  }
  const duplicated: WriteRef[] = [];
  const phantom: WriteRef[] = [];
  for (const [id, writes] of applied) {
    const first = writes[0]!;
    const revisions = [...new Set(writes.map((w) => w.revision))].sort((a, b) => a - b);
    if (revisions.length > 1) duplicated.push({ key: first.key, value: first.value, revisions });
    if (!issued.has(id)) phantom.push({ key: first.key, value: first.value, revisions });
  }
  return { lost, duplicated, phantom, revisionMismatch };
}

export function analyzeHistory(
  ops: readonly ChaosOp[],
  storeWrites: readonly StoreWrite[],
  budget?: SearchBudget,
): HistoryVerdict {
  return {
    linearizability: checkLinearizability(ops, budget),
    ...compareWithStore(ops, storeWrites),
  };
}

function writeId(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

function ref(op: PutOp, revisions: number[]): WriteRef {
  return { key: op.key, value: op.value, revisions };
}
