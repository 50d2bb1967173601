/**
 * The stable-storage interface the Raft core reads from (etcd-io/raft's `Storage`). The core
 * never writes to it: the host persists what a Ready hands out, then calls `advance()`.
 *
 * Index conventions: the storage holds a snapshot covering (0, snapshotIndex] and entries
 * (snapshotIndex, lastIndex]. `firstIndex()` = snapshotIndex + 1; the term of snapshotIndex is
 * still known (the "dummy" entry), so `term(firstIndex() - 1)` succeeds.
 */
import type { ConfState, Entry, HardState, Snapshot } from "../core/messages.ts";

/** The requested index is below firstIndex-1: it was compacted into a snapshot. */
export class CompactedError extends Error {
  constructor(index: number, firstIndex: number) {
    super(`raft storage: index ${index} is compacted (first index ${firstIndex})`);
    this.name = "CompactedError";
  }
}

/** The requested index is beyond lastIndex. */
export class UnavailableError extends Error {
  constructor(index: number, lastIndex: number) {
    super(`raft storage: index ${index} is unavailable (last index ${lastIndex})`);
    this.name = "UnavailableError";
  }
}

/** A snapshot older than the one already held was offered. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, current: number) {
    super(`raft storage: snapshot at ${index} is older than the current one at ${current}`);
    this.name = "SnapshotOutOfDateError";
  }
}

/** The snapshot is being produced; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super("raft storage: snapshot temporarily unavailable");
    this.name = "SnapshotTemporarilyUnavailableError";
  }
}

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  /** The persisted hard state and the membership as of the latest snapshot. */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), at most `maxSizeBytes` of them by entrySizeBytes (but always at least
   * one if any exist). Throws CompactedError if lo < firstIndex, UnavailableError if hi > lastIndex+1.
   */
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  /** Term of entry i, for i in [firstIndex-1, lastIndex]. Throws CompactedError / UnavailableError. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot. May throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}
