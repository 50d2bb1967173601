/**
 * Linearizability checking by Wing–Gong search with memoization (Lowe's refinement, as in
 * porcupine), applied per partition (Horn & Kroening's P-compositionality).
 *
 * The search repeatedly picks an operation that may come first among those not yet linearized —
 * one that was called before every remaining operation returned — applies it to the model, and
 * backtracks when no candidate's observed output fits. A (linearized set, model state) pair that
 * was already explored is never explored again: it failed the first time.
 *
 * Operations that never returned get return time +∞ and accept any output, so they may take
 * effect at any point after their call, or "never" (be linearized after everything else).
 *
 * The search is bounded by a step budget, never by the wall clock, so a verdict is reproducible.
 */
import { type KvOperation, kvModel } from "./kv-model.ts";
import { ILLEGAL, isPending, type Model, type Operation } from "./model.ts";

/** Default step budget for one whole check (all partitions). One step = one model transition. */
export const DEFAULT_MAX_SEARCH_STEPS = 2_000_000;
/** How many failing candidates an explanation lists. */
const MAX_EXPLAINED_CANDIDATES = 6;

export interface SearchBudget {
  maxSteps: number;
}

export type LinearizabilityResult<O> =
  | { ok: true }
  | { ok: false; key: string; partialLinearization: O[]; explanation: string }
  | { ok: "unknown"; reason: string };

type PartitionVerdict<O> =
  | { kind: "linearizable"; steps: number }
  | { kind: "illegal"; steps: number; partialLinearization: O[]; explanation: string }
  | { kind: "out-of-budget"; steps: number };

interface Frame<S> {
  index: number;
  before: S;
}

/** A set of operation indices, with a compact string key for the memo table. */
class IndexSet {
  private readonly words: Uint16Array;
  constructor(size: number) {
    this.words = new Uint16Array(Math.ceil(size / 16) + 1);
  }
  has(i: number): boolean {
    return ((this.words[i >> 4]! >> (i & 15)) & 1) === 1;
  }
  add(i: number): void {
    this.words[i >> 4]! |= 1 << (i & 15);
  }
  delete(i: number): void {
    this.words[i >> 4]! &= ~(1 << (i & 15));
  }
  key(): string {
    let out = "";
    for (let i = 0; i < this.words.length; i += 4096) {
      out += String.fromCharCode(...this.words.subarray(i, i + 4096));
    }
    return out;
  }
}

function checkPartition<S, O extends Operation>(
  model: Model<S, O>,
  partition: O[],
  maxSteps: number,
): PartitionVerdict<O> {
  // Sorted by call time: the candidates at any point are a prefix (by call) of the remainder.
  const ops = partition.slice().sort((a, b) => a.callMs - b.callMs);
  const n = ops.length;
  const pending = ops.map(isPending);
  const returns = ops.map((op, i) => (pending[i] ? Number.POSITIVE_INFINITY : op.returnMs!));
  const twins = findTwins(ops, pending);
  const linearized = new IndexSet(n);
  const visited = new Set<string>();
  const stack: Frame<S>[] = [];
  let longest: Frame<S>[] = [];
  let longestState: S = model.init();
  let state: S = model.init();
  let cursor = 0;
  let steps = 0;

  while (stack.length < n) {
    // The earliest return among the remaining operations bounds who may go next.
    let firstReturn = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if (!linearized.has(i) && returns[i]! < firstReturn) firstReturn = returns[i]!;
    }
    let advanced = false;
    for (let i = cursor; i < n; i++) {
      if (ops[i]!.callMs > firstReturn) break;
      if (linearized.has(i)) continue;
      // Identical operations are interchangeable: only the first unlinearized one is tried.
      const twin = twins[i]!;
      if (twin >= 0 && !linearized.has(twin)) continue;
      if (++steps > maxSteps) return { kind: "out-of-budget", steps };
      const next = model.step(state, ops[i]!, pending[i]!);
      if (next === ILLEGAL) continue;
      linearized.add(i);
      const memoKey = `${linearized.key()}|${model.stateKey(next)}`;
      if (visited.has(memoKey)) {
        linearized.delete(i);
        continue;
      }
      visited.add(memoKey);
      stack.push({ index: i, before: state });
      state = next;
      cursor = 0;
      advanced = true;
      break;
    }
    if (advanced) continue;
    if (stack.length >= longest.length && stack.length > 0) {
      longest = stack.slice();
      longestState = state;
    }
    const top = stack.pop();
    if (top === undefined) {
      return {
        kind: "illegal",
        steps,
        partialLinearization: longest.map((f) => ops[f.index]!),
        explanation: explainStuck(model, ops, pending, returns, longest, longestState),
      };
    }
    linearized.delete(top.index);
    state = top.before;
    cursor = top.index + 1;
  }
  return { kind: "linearizable", steps };
}

/**
 * For each operation, the index of the previous identical one (same call, input, observed output
 * and interval; only the client differs), or -1. Swapping two such operations in a linearization
 * gives another, so the search need only try them in index order.
 */
function findTwins<O extends Operation>(ops: O[], pending: boolean[]): number[] {
  const lastBySignature = new Map<string, number>();
  return ops.map((op, i) => {
    const signature = JSON.stringify([
      op.op,
      op.input,
      pending[i] ? null : (op.output ?? null),
      op.callMs,
      op.returnMs ?? null,
    ]);
    const twin = lastBySignature.get(signature) ?? -1;
    lastBySignature.set(signature, i);
    return twin;
  });
}

/** Why the longest linearizable prefix cannot be extended: each candidate and what it saw. */
function explainStuck<S, O extends Operation>(
  model: Model<S, O>,
  ops: O[],
  pending: boolean[],
  returns: number[],
  longest: Frame<S>[],
  state: S,
): string {
  const done = new Set(longest.map((f) => f.index));
  let firstReturn = Number.POSITIVE_INFINITY;
  for (let i = 0; i < ops.length; i++) {
    if (!done.has(i) && returns[i]! < firstReturn) firstReturn = returns[i]!;
  }
  const lines = [
    `longest linearizable prefix: ${longest.length} of ${ops.length} operations; ` +
      `state after it: ${model.describeState(state)}`,
    "none of the operations that could come next fits:",
  ];
  let listed = 0;
  for (let i = 0; i < ops.length && listed < MAX_EXPLAINED_CANDIDATES; i++) {
    if (done.has(i) || ops[i]!.callMs > firstReturn) continue;
    const fits = model.step(state, ops[i]!, pending[i]!) !== ILLEGAL;
    lines.push(
      `  ${model.describeOperation(ops[i]!)}${fits ? " (fits here, but every continuation fails)" : ""}`,
    );
    listed++;
  }
  return lines.join("\n");
}

/** Check a whole history: partition it, check each partition, report the first failure. */
export function checkLinearizable<S, O extends Operation>(
  model: Model<S, O>,
  history: readonly O[],
  budget: SearchBudget = { maxSteps: DEFAULT_MAX_SEARCH_STEPS },
): LinearizabilityResult<O> {
  const partitions = new Map<string, O[]>();
  for (const op of history) {
    // A read that never returned observed nothing and changed nothing.
    if (isPending(op) && model.isReadOnly(op)) continue;
    const key = model.partitionKey(op);
    let ops = partitions.get(key);
    if (ops === undefined) {
      ops = [];
      partitions.set(key, ops);
    }
    ops.push(op);
  }
  let stepsLeft = budget.maxSteps;
  let unknown: string | undefined;
  // Smaller partitions first: a cheap definite failure beats an expensive "unknown".
  const ordered = [...partitions.entries()].sort((a, b) => a[1].length - b[1].length);
  for (const [key, ops] of ordered) {
    const verdict = checkPartition(model, ops, Math.max(stepsLeft, 0));
    stepsLeft -= verdict.steps;
    if (verdict.kind === "illegal") {
      return {
        ok: false,
        key,
        partialLinearization: verdict.partialLinearization,
        explanation: `key ${JSON.stringify(key)}: ${verdict.explanation}`,
      };
    }
    if (verdict.kind === "out-of-budget") {
      unknown ??= `search budget of ${budget.maxSteps} steps exhausted on key ${JSON.stringify(key)} (${ops.length} operations)`;
    }
  }
  return unknown === undefined ? { ok: true } : { ok: "unknown", reason: unknown };
}

export function checkKvHistory(
  history: readonly KvOperation[],
  budget?: SearchBudget,
): LinearizabilityResult<KvOperation> {
  return checkLinearizable(kvModel, history, budget);
}
