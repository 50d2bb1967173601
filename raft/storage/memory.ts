/**
 * MemoryStorage: the in-memory twin of the durable storage (etcd-io/raft's MemoryStorage),
 * used by tests and the simulator. It holds a snapshot, the entries after it, and the hard state.
 *
 * Layout: `ents[0]` is a dummy entry standing for the snapshot (its index and term); real entries
 * follow, so ents[i].index === ents[0].index + i.
 */
import {
  type ConfState,
  type Entry,
  emptyConfState,
  emptyHardState,
  entrySizeBytes,
  type HardState,
  type Snapshot,
} from "../core/messages.ts";
import {
  CompactedError,
  type InitialState,
  SnapshotOutOfDateError,
  type Storage,
  UnavailableError,
} from "./storage.ts";

export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot;
  private ents: Entry[];

  /** A fresh storage; `confState` bootstraps the membership (as a snapshot at index 0). */
  constructor(confState: ConfState = emptyConfState()) {
    this.snap = {
      metadata: { index: 0, term: 0, confState: cloneConfState(confState) },
      data: new Uint8Array(),
    };
    this.ents = [dummy(0, 0)];
  }

  initialState(): InitialState {
    return {
      hardState: { ...this.hardState },
      confState: cloneConfState(this.snap.metadata.confState),
    };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  hardStateNow(): HardState {
    return { ...this.hardState };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    if (lo > hi) throw new RangeError(`MemoryStorage.entries: lo ${lo} > hi ${hi}`);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset]!;
      size += entrySizeBytes(e);
      if (out.length > 0 && size > maxSizeBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new CompactedError(i, offset + 1);
    if (i - offset >= this.ents.length) throw new UnavailableError(i, this.lastIndex());
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces everything with the snapshot (a follower installing the leader's snapshot). */
  applySnapshot(snap: Snapshot): void {
    const current = this.snap.metadata.index;
    if (snap.metadata.index < current)
      throw new SnapshotOutOfDateError(snap.metadata.index, current);
    this.snap = snap;
    this.ents = [dummy(snap.metadata.index, snap.metadata.term)];
  }

  /**
   * Makes a snapshot of the state machine at `index` (which must be applied and in the log) for
   * later compaction. Returns it.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const current = this.snap.metadata.index;
    if (index <= current) throw new SnapshotOutOfDateError(index, current);
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    this.snap = {
      metadata: { index, term: this.term(index), confState: cloneConfState(confState) },
      data,
    };
    return this.snap;
  }

  /** Discards entries up to and including `compactIndex`; they must be covered by a snapshot. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new CompactedError(compactIndex, offset + 1);
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex, this.lastIndex());
    const i = compactIndex - offset;
    const rest = this.ents.slice(i + 1);
    this.ents = [dummy(compactIndex, this.ents[i]!.term), ...rest];
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  /**
   * Appends entries, truncating any existing suffix they overlap (Raft §5.3: a conflicting
   * entry and all that follow it are deleted). Entries already compacted are skipped.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const offset = ents[0]!.index - this.offset();
    if (offset > this.ents.length) {
      throw new UnavailableError(ents[0]!.index, this.lastIndex());
    }
    this.ents = [...this.ents.slice(0, offset), ...ents];
  }
}

function dummy(index: number, term: number): Entry {
  return { index, term, type: "normal", data: new Uint8Array() };
}

function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}
