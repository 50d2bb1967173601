/**
 * The raft log (etcd-io/raft's `raftLog`): the stable entries in Storage followed by the
 * unstable tail, with the commit and applied indexes.
 *
 * Invariants (asserted): applied <= committed <= lastIndex; committed never decreases; entries
 * at or below committed are never overwritten.
 */
import { CompactedError, type Storage, UnavailableError } from "../storage/storage.ts";
import { invariant } from "./errors.ts";
import { UnstableLog } from "./log-unstable.ts";
import { type Entry, entrySizeBytes, type Snapshot } from "./messages.ts";

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: UnstableLog;
  /** Highest index known to be committed on a quorum. */
  committed: number;
  /** Highest index the state machine has applied. */
  applied: number;
  private readonly maxApplyingSizeBytes: number;

  constructor(storage: Storage, maxApplyingSizeBytes: number) {
    this.storage = storage;
    this.maxApplyingSizeBytes = maxApplyingSizeBytes;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The last index that is durable (the host confirmed it), as far as the log knows. */
  stableLastIndex(): number {
    // With a snapshot pending nothing below it is known to be durable: claim nothing.
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  /** Term of entry i, or undefined when it is compacted away or beyond the log. */
  term(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    invariant(t !== undefined, "term of the last index must be known");
    return t;
  }

  matchTerm(i: number, t: number): boolean {
    const ours = this.term(i);
    return ours !== undefined && ours === t;
  }

  /**
   * Raft §5.4.1: a candidate's log (lastIndex, lastTerm) is at least as up to date as ours if its
   * last term is higher, or equal with an index at least as large.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries (Raft §5.3): if our log has (index, logTerm), append the
   * entries (truncating at the first conflict), advance commit, and return the new last index
   * covered by this message; otherwise undefined.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    ents: Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(
        ci > this.committed,
        () => `entry ${ci} conflicts with committed entry (committed ${this.committed})`,
      );
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries (which may truncate the unstable tail); returns the new last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    invariant(
      after >= this.committed,
      () => `append after ${after} is below committed ${this.committed}`,
    );
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry in `ents` that is not already in our log with the same term,
   * or 0 when all are present. Entries must be contiguous.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (etcd's findConflictByTerm): the largest index <= `index` whose term is
   * <= `term`, with that term. Every entry after it has a term > `term`, so cannot match a
   * log whose entry at `index` has term `term`. Returns term 0 where unknown (compacted).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const ours = this.term(i);
      if (ours === undefined) return { index: i, term: 0 };
      if (ours <= term) return { index: i, term: ours };
    }
    return { index: 0, term: 0 };
  }

  /** Entries [lo, hi) totalling at most maxSizeBytes (but at least one). Throws CompactedError. */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const out: Entry[] = [];
    const unstableOffset = this.unstable.offset;
    if (lo < unstableOffset) {
      const stored = this.storage.entries(lo, Math.min(hi, unstableOffset), maxSizeBytes);
      // The storage stopped early because of the size limit: do not go on to the unstable part.
      if (stored.length < Math.min(hi, unstableOffset) - lo) return stored;
      out.push(...stored);
    }
    if (hi > unstableOffset) {
      const uns = this.unstable.slice(Math.max(lo, unstableOffset), hi);
      out.push(...uns);
    }
    return limitSize(out, maxSizeBytes);
  }

  /** Entries from i to the end, limited in size. Throws CompactedError when i is compacted. */
  entries(i: number, maxSizeBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSizeBytes);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    invariant(lo <= hi, () => `invalid slice ${lo} > ${hi}`);
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    const length = this.lastIndex() + 1 - first;
    invariant(
      hi <= first + length,
      () => `slice[${lo},${hi}) out of bound [${first},${this.lastIndex()}]`,
    );
  }

  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** Committed entries not yet applied. None while a snapshot waits to be applied first. */
  hasNextCommittedEntries(): boolean {
    if (this.hasNextOrInProgressSnapshot()) return false;
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > lo;
  }

  nextCommittedEntries(): Entry[] {
    if (this.hasNextOrInProgressSnapshot()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxApplyingSizeBytes);
  }

  /** The snapshot to send or install: the unstable one if any, else the stored one. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Raises the commit index; never lowers it (a stale heartbeat may carry a lower one). */
  commitTo(toCommit: number): void {
    if (toCommit <= this.committed) return;
    invariant(
      toCommit <= this.lastIndex(),
      () =>
        `commit ${toCommit} is beyond the last index ${this.lastIndex()}: log corrupted, truncated or lost?`,
    );
    this.committed = toCommit;
  }

  /**
   * Raft §5.4.2 (Figure 8): the leader commits `maxIndex` by counting replicas only if that
   * entry is from the current term; earlier entries then commit indirectly.
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && maxIndex <= this.lastIndex() && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(
      i >= this.applied && i <= this.committed,
      () =>
        `applied(${i}) must be within [prevApplied(${this.applied}), committed(${this.committed})]`,
    );
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Replaces the log with a snapshot (the follower installing one over a divergent log, Raft §7). */
  restore(s: Snapshot): void {
    invariant(s.metadata.index > this.committed, "restore must move the commit index forward");
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }
}

function limitSize(ents: Entry[], maxSizeBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySizeBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySizeBytes(ents[n]!);
    if (size > maxSizeBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
