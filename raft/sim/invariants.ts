/**
 * The safety properties of Raft (Raft paper Figure 3), checked by the simulator as it observes
 * nodes, plus the client-visible ones. Each throws a SafetyViolation naming the property.
 *
 * - Election safety: at most one leader per term, over the whole run.
 * - Log matching: checked on committed prefixes — every node's entry at a committed index is the
 *   one recorded for that index (same term and data), so equal (index, term) means equal entries.
 * - Leader completeness: a new leader's log holds every entry known committed so far.
 * - State machine safety: no two nodes apply different entries at one index.
 * - No acknowledged write lost, no write applied twice: see the simulator's end-of-run checks
 *   and the state machine's own record of what it executed.
 */
import type { Entry, NodeId } from "../core/messages.ts";
import type { MemoryStorage } from "../storage/memory.ts";

export type SafetyProperty =
  | "election safety"
  | "log matching"
  | "leader completeness"
  | "state machine safety"
  | "acknowledged write lost"
  | "write applied twice"
  | "liveness"
  | "linearizability"
  | "stale read"
  | "proposal answered for another entry"
  | "replica failed"
  | "simulator";

export class SafetyViolation extends Error {
  constructor(
    readonly property: SafetyProperty,
    detail: string,
  ) {
    super(`${property} violated: ${detail}`);
    this.name = "SafetyViolation";
  }
}

/** What a voter would restart with: the synced log, as the invariant checks need it. */
export interface DurableLog {
  id: NodeId;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  entry(index: number): Entry | undefined;
}

interface CommittedEntry {
  term: number;
  type: Entry["type"];
  data: Uint8Array;
  /** Who first showed it committed, for the report. */
  witness: NodeId;
  /**
   * The witness's term when it showed the entry committed: the entry was committed in this term
   * or earlier, so every leader of a later term must hold it.
   */
  knownInTerm: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeEntry(e: { term: number; type: string; data: Uint8Array }): string {
  const text = new TextDecoder().decode(e.data);
  return `term ${e.term} ${e.type} ${text.length > 80 ? `${text.slice(0, 80)}…` : text || "<empty>"}`;
}

export class InvariantChecker {
  private readonly leaderByTerm = new Map<number, NodeId>();
  private readonly committed = new Map<number, CommittedEntry>();
  private readonly checkedCommit = new Map<NodeId, number>();
  private maxCommitted = 0;

  /** How many terms had a leader. */
  get leaderTerms(): number {
    return this.leaderByTerm.size;
  }

  /** The highest index known committed anywhere. */
  get highestCommitted(): number {
    return this.maxCommitted;
  }

  committedEntry(index: number): CommittedEntry | undefined {
    return this.committed.get(index);
  }

  /** A node reports it is leader of `term`, with its log persisted in `storage`. */
  observeLeader(node: NodeId, term: number, storage: MemoryStorage): void {
    const existing = this.leaderByTerm.get(term);
    if (existing !== undefined && existing !== node) {
      throw new SafetyViolation(
        "election safety",
        `${node} and ${existing} are both leader of term ${term}`,
      );
    }
    if (existing === node) return;
    this.leaderByTerm.set(term, node);
    // Raft §5.4: a leader's log contains every entry committed in earlier terms.
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    for (const [index, c] of this.committed) {
      // A leader of an older term observed late need not hold entries committed after it.
      if (index < first || c.knownInTerm >= term) continue;
      if (index > last) {
        throw new SafetyViolation(
          "leader completeness",
          `${node} became leader of term ${term} with log ending at ${last}, ` +
            `but index ${index} (${describeEntry(c)}) was committed (seen at ${c.witness})`,
        );
      }
      const [e] = storage.entries(index, index + 1, Number.POSITIVE_INFINITY);
      if (e === undefined || e.term !== c.term || !sameBytes(e.data, c.data)) {
        throw new SafetyViolation(
          "leader completeness",
          `${node} became leader of term ${term} with ${e ? describeEntry(e) : "nothing"} at ` +
            `index ${index}, but ${describeEntry(c)} was committed there (seen at ${c.witness})`,
        );
      }
    }
  }

  /** A node persisted commit index `commit`: its log up to there is committed. */
  observeCommit(node: NodeId, term: number, commit: number, storage: MemoryStorage): void {
    const from = Math.max(this.checkedCommit.get(node) ?? 0, storage.firstIndex() - 1);
    if (commit <= from) return;
    const upTo = Math.min(commit, storage.lastIndex());
    if (upTo < commit) {
      throw new SafetyViolation(
        "log matching",
        `${node} persisted commit ${commit} but its log ends at ${storage.lastIndex()}`,
      );
    }
    const entries = storage.entries(from + 1, upTo + 1, Number.POSITIVE_INFINITY);
    for (const e of entries) this.record(node, term, e, "log matching");
    this.checkedCommit.set(node, commit);
  }

  /** A node's state machine applied `entry`. */
  observeApply(node: NodeId, term: number, entry: Entry): void {
    this.record(node, term, entry, "state machine safety");
  }

  /**
   * Leader completeness, before the fact (the argument of Raft §5.4.3): a voter whose durable
   * log is at least as up to date (§5.4.1) as the durable logs of a majority could collect their
   * votes, so it must already hold every committed entry. This catches unsafe commits (e.g. of
   * an old-term entry by counting replicas, Figure 8) without waiting for the unlucky election.
   * It checks the highest committed entry; log matching covers the prefix.
   */
  checkElectableVoters(voters: readonly DurableLog[]): void {
    const h = this.maxCommitted;
    const c = this.committed.get(h);
    if (c === undefined || voters.length === 0) return;
    const majority = Math.floor(voters.length / 2) + 1;
    for (const candidate of voters) {
      let atLeastAsUpToDate = 0;
      for (const v of voters) {
        if (
          candidate.lastTerm > v.lastTerm ||
          (candidate.lastTerm === v.lastTerm && candidate.lastIndex >= v.lastIndex)
        ) {
          atLeastAsUpToDate++;
        }
      }
      if (atLeastAsUpToDate < majority) continue;
      if (candidate.snapshotIndex >= h) continue;
      const e = candidate.lastIndex >= h ? candidate.entry(h) : undefined;
      if (e === undefined || e.term !== c.term || !sameBytes(e.data, c.data)) {
        throw new SafetyViolation(
          "leader completeness",
          `${candidate.id} could be elected (its log ends at ${candidate.lastIndex}/term ` +
            `${candidate.lastTerm}, as up to date as ${atLeastAsUpToDate} of ${voters.length} voters) ` +
            `but holds ${e ? describeEntry(e) : "nothing"} at ${h}, where ${describeEntry(c)} ` +
            `is committed (seen at ${c.witness})`,
        );
      }
    }
  }

  /** A restarted node starts over; its checked prefix is re-read from its recovered log. */
  forgetNode(node: NodeId): void {
    this.checkedCommit.delete(node);
  }

  private record(node: NodeId, term: number, e: Entry, property: SafetyProperty): void {
    const c = this.committed.get(e.index);
    if (c === undefined) {
      this.committed.set(e.index, {
        term: e.term,
        type: e.type,
        data: e.data,
        witness: node,
        knownInTerm: term,
      });
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
      return;
    }
    if (c.term !== e.term || c.type !== e.type || !sameBytes(c.data, e.data)) {
      throw new SafetyViolation(
        property,
        `at index ${e.index} ${node} has ${describeEntry(e)} but ${c.witness} had ` +
          `${describeEntry(c)} committed`,
      );
    }
  }
}
