/**
 * RocksLogStorage: the durable Raft log (DESIGN §5) — entries after the last snapshot, the hard
 * state and the snapshot — in one RocksDB instance (layout in rocks/log-codec.ts).
 *
 * The core reads storage synchronously (the `Storage` interface), so everything it reads is kept
 * in memory, loaded and checked at `open()`. Every change goes through an async method that
 * writes ONE atomic RocksDB batch with `sync: true` (the WAL is fsync'd) and only then updates
 * the in-memory state: what the core reads is always what is on disk. The host awaits `persist`
 * before sending `messagesAfterPersist` or calling `advance()` (raft/core/README.md).
 *
 * Changes are applied one at a time in call order (an internal queue), so a host may issue the
 * next `persist` before the previous one resolved. After a failed write the storage refuses
 * further writes (the disk state is unknown; reopen to recover from what RocksDB has).
 *
 * Crash safety: a batch is all-or-nothing across a crash (RocksDB's WAL). On open, the log must
 * be contiguous from the log start, terms must not decrease, and the hard state's commit must
 * be within the log; otherwise `open` refuses with LogStorageInconsistentError naming the
 * problem. A value that fails its checksum makes `open` fail with RocksDbCorruptionError.
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
import type { DiskFaultPoint } from "./disk-faults.ts";
import { RocksDb, RocksDbCorruptionError, type WriteOp } from "./rocks/db.ts";
import {
  decodeEntry,
  decodeHardState,
  decodeLogStart,
  decodeSnapshotData,
  decodeSnapshotMeta,
  decodeVersion,
  dummyKey,
  encodeEntry,
  encodeHardState,
  encodeLogStart,
  encodeSnapshotData,
  encodeSnapshotMeta,
  encodeVersion,
  entryIndexOfKey,
  entryKey,
  entryKeyRange,
  hardStateKey,
  LogCodecError,
  type LogStart,
  logFormatVersion,
  snapshotDataKey,
  snapshotMetaKey,
  versionKey,
} from "./rocks/log-codec.ts";
import {
  CompactedError,
  type InitialState,
  SnapshotOutOfDateError,
  type Storage,
  UnavailableError,
} from "./storage.ts";

/** The largest `data` of one log entry accepted by `persist` (etcd's default request cap is 1.5 MiB). */
export const maxEntryDataBytes = 8 * 1024 * 1024;
/** The largest snapshot `data` accepted (it is stored in RocksDB and held in memory). */
export const maxSnapshotDataBytes = 64 * 1024 * 1024;
/** The largest single persist batch (encoded bytes); below rocks/db.ts's maxWriteBatchBytes. */
export const maxPersistBatchBytes = 96 * 1024 * 1024;

/** What one Ready hands the host to make durable, written as one synced batch. */
export interface PersistRequest {
  /** Installed first: replaces the whole log (Raft §7). */
  snapshot?: Snapshot | undefined;
  /** Appended next, truncating any existing suffix they overlap (Raft §5.3). */
  entries?: Entry[] | undefined;
  /** Written last. Its commit must not move backwards and must be within the log. */
  hardState?: HardState | undefined;
  /**
   * fsync the batch (default true). A Ready whose only change is the commit index need not be
   * (etcd's MustSync): a commit index lost in a crash is learned again from the leader.
   */
  sync?: boolean | undefined;
}

export interface RocksLogStorageOptions {
  /** Create a new log if `path` holds none. Default true. */
  createIfMissing?: boolean;
  /** The bootstrap membership of a NEW log (a snapshot at index 0); ignored when reopening. */
  confState?: ConfState;
  /** A slow-disk failpoint (chaos runs only). */
  diskFaults?: DiskFaultPoint | undefined;
}

/** The log on disk breaks an invariant (a gap, a term going down, commit past the end, ...). */
export class LogStorageInconsistentError extends Error {
  constructor(path: string, problem: string) {
    super(`raft storage: ${path}: inconsistent log, refusing to start: ${problem}`);
    this.name = "LogStorageInconsistentError";
  }
}

/** A caller broke an invariant of the log; nothing was written. */
export class LogStorageInvariantError extends Error {
  constructor(path: string, problem: string) {
    super(`raft storage: ${path}: invariant violated, nothing written: ${problem}`);
    this.name = "LogStorageInvariantError";
  }
}

export class RocksLogStorage implements Storage {
  /** Set after a failed write: RocksDB's state is unknown, so no more writes. */
  private failed: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** A chaos failpoint (nodes with --faults only): stalls each fsync'd write. */
  private diskFaults: DiskFaultPoint | undefined;

  private constructor(
    private readonly db: RocksDb,
    /** Index and term just before `log[0]` (etcd's dummy entry). */
    private start: LogStart,
    /** The entries after `start`: log[i].index === start.index + 1 + i. */
    private log: Entry[],
    private hard: HardState,
    private snap: Snapshot,
  ) {}

  get path(): string {
    return this.db.path;
  }

  /** Opens the log in directory `path` (creating it with `options.confState` if new). */
  static async open(path: string, options: RocksLogStorageOptions = {}): Promise<RocksLogStorage> {
    const db = await RocksDb.open(path, { createIfMissing: options.createIfMissing ?? true });
    try {
      const storage = await RocksLogStorage.load(db, options.confState ?? emptyConfState());
      storage.diskFaults = options.diskFaults;
      return storage;
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** Reads and checks the whole persisted state; writes the initial state into an empty DB. */
  private static async load(db: RocksDb, bootstrap: ConfState): Promise<RocksLogStorage> {
    const path = db.path;
    const inconsistent = (problem: string) => new LogStorageInconsistentError(path, problem);
    const decode = <T>(f: () => T): T => {
      try {
        return f();
      } catch (error) {
        if (error instanceof LogCodecError) {
          throw new RocksDbCorruptionError(path, undefined, error.message, [], { cause: error });
        }
        throw error;
      }
    };

    const version = await db.get(versionKey);
    if (version === undefined) {
      for await (const _ of db.iterate({ limit: 1, keysOnly: true })) {
        throw inconsistent(
          "the database holds keys but no format version: not a bosun Raft log, or its first write was lost (WAL corruption?)",
        );
      }
      const snap: Snapshot = {
        metadata: { index: 0, term: 0, confState: cloneConfState(bootstrap) },
        data: new Uint8Array(),
      };
      const start: LogStart = { index: 0, term: 0 };
      const hard = emptyHardState();
      await db.write(
        [
          { type: "put", key: snapshotMetaKey, value: encodeSnapshotMeta(snap.metadata) },
          { type: "put", key: snapshotDataKey, value: encodeSnapshotData(snap.data) },
          { type: "put", key: dummyKey, value: encodeLogStart(start) },
          { type: "put", key: hardStateKey, value: encodeHardState(hard) },
          // Last in the batch, though the batch is atomic anyway: its presence marks a full init.
          { type: "put", key: versionKey, value: encodeVersion(logFormatVersion) },
        ],
        { sync: true },
      );
      return new RocksLogStorage(db, start, [], hard, snap);
    }
    const v = decode(() => decodeVersion(version));
    if (v !== logFormatVersion)
      throw inconsistent(`format version ${v}, expected ${logFormatVersion}`);

    const required = async (key: Buffer, what: string): Promise<Buffer> => {
      const value = await db.get(key);
      if (value === undefined) throw inconsistent(`${what} is missing`);
      return value;
    };
    const startValue = await required(dummyKey, "the log start");
    const metaValue = await required(snapshotMetaKey, "the snapshot metadata");
    const dataValue = await required(snapshotDataKey, "the snapshot data");
    const hardValue = await required(hardStateKey, "the hard state");
    const start = decode(() => decodeLogStart(startValue));
    const metadata = decode(() => decodeSnapshotMeta(metaValue));
    const data = decode(() => decodeSnapshotData(dataValue));
    const hard = decode(() => decodeHardState(hardValue));

    const log: Entry[] = [];
    let prevTerm = start.term;
    for await (const [key, value] of db.iterate(entryKeyRange)) {
      const index = decode(() => {
        try {
          return entryIndexOfKey(key);
        } catch (error) {
          throw new LogCodecError("entry key", (error as Error).message);
        }
      });
      const expected = start.index + 1 + log.length;
      if (index !== expected) {
        throw inconsistent(
          index < expected
            ? `entry ${index} is at or below the log start ${start.index}`
            : `the log has a gap: expected index ${expected}, found ${index} (a write lost to WAL corruption?)`,
        );
      }
      const entry = decode(() => decodeEntry(value));
      if (entry.index !== index) {
        throw new RocksDbCorruptionError(
          path,
          undefined,
          `the value under key for index ${index} holds entry ${entry.index}`,
        );
      }
      if (entry.term < prevTerm) {
        throw inconsistent(`term goes down at index ${index}: ${entry.term} after ${prevTerm}`);
      }
      prevTerm = entry.term;
      log.push(entry);
    }
    const lastIndex = start.index + log.length;
    if (hard.commit > lastIndex) {
      throw inconsistent(
        `hard state commit ${hard.commit} is beyond the last log index ${lastIndex}`,
      );
    }
    if (metadata.index > lastIndex) {
      throw inconsistent(
        `snapshot index ${metadata.index} is beyond the last log index ${lastIndex}`,
      );
    }
    if (metadata.index === start.index && metadata.term !== start.term) {
      throw inconsistent(
        `snapshot term ${metadata.term} differs from the log start term ${start.term} at ${start.index}`,
      );
    }
    if (
      metadata.index > start.index &&
      log[metadata.index - start.index - 1]!.term !== metadata.term
    ) {
      throw inconsistent(
        `snapshot term ${metadata.term} differs from the log's term at ${metadata.index}`,
      );
    }
    return new RocksLogStorage(db, start, log, hard, { metadata, data });
  }

  // ---- Storage (synchronous reads from memory) ---------------------------------------------

  initialState(): InitialState {
    return { hardState: { ...this.hard }, confState: cloneConfState(this.snap.metadata.confState) };
  }

  /** The hard state last persisted. */
  hardStateNow(): HardState {
    return { ...this.hard };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    if (lo <= this.start.index) throw new CompactedError(lo, this.start.index + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    if (lo > hi) throw new RangeError(`RocksLogStorage.entries: lo ${lo} > hi ${hi}`);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.log[i - this.start.index - 1]!;
      size += entrySizeBytes(e);
      if (out.length > 0 && size > maxSizeBytes) break;
      out.push(e);
    }
    return out;
  }

  term(i: number): number {
    if (i < this.start.index) throw new CompactedError(i, this.start.index + 1);
    if (i === this.start.index) return this.start.term;
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    return this.log[i - this.start.index - 1]!.term;
  }

  firstIndex(): number {
    return this.start.index + 1;
  }

  lastIndex(): number {
    return this.start.index + this.log.length;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- Writes (each one synced batch) ------------------------------------------------------

  /**
   * Makes one Ready durable: snapshot, then entries (truncating a conflicting suffix in the same
   * batch), then hard state, in ONE `sync: true` batch. Resolves once fsync'd; the in-memory
   * view changes only then. Rejects (writing nothing) on a broken invariant or limit.
   */
  persist(request: PersistRequest): Promise<void> {
    return this.enqueue(() => this.persistNow(request));
  }

  /** Appends entries (persist with entries only). */
  append(entries: Entry[]): Promise<void> {
    return this.persist({ entries });
  }

  /** Persists the hard state (persist with hard state only). */
  setHardState(hardState: HardState): Promise<void> {
    return this.persist({ hardState });
  }

  /** Replaces everything with the snapshot (a follower installing the leader's snapshot). */
  applySnapshot(snapshot: Snapshot): Promise<void> {
    return this.persist({ snapshot });
  }

  /**
   * Records a snapshot of the state machine at `index` (applied and still in the log) for later
   * compaction, and returns it. The log itself is unchanged.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.enqueue(async () => {
      const current = this.snap.metadata.index;
      if (index <= current) throw new SnapshotOutOfDateError(index, current);
      if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
      this.checkSnapshotData(data);
      const snap: Snapshot = {
        metadata: { index, term: this.term(index), confState: cloneConfState(confState) },
        data,
      };
      await this.write([
        { type: "put", key: snapshotMetaKey, value: encodeSnapshotMeta(snap.metadata) },
        { type: "put", key: snapshotDataKey, value: encodeSnapshotData(data) },
      ]);
      this.snap = snap;
      return snap;
    });
  }

  /**
   * Discards entries up to and including `compactIndex`, which becomes the log start (its term
   * is kept as the dummy entry's). They should be covered by a snapshot (createSnapshot).
   */
  compact(compactIndex: number): Promise<void> {
    return this.enqueue(async () => {
      if (compactIndex <= this.start.index) {
        throw new CompactedError(compactIndex, this.start.index + 1);
      }
      if (compactIndex > this.lastIndex()) {
        throw new UnavailableError(compactIndex, this.lastIndex());
      }
      const start: LogStart = { index: compactIndex, term: this.term(compactIndex) };
      const ops: WriteOp[] = [];
      for (let i = this.start.index + 1; i <= compactIndex; i++) {
        ops.push({ type: "del", key: entryKey(i) });
      }
      ops.push({ type: "put", key: dummyKey, value: encodeLogStart(start) });
      await this.write(ops);
      this.log = this.log.slice(compactIndex - this.start.index);
      this.start = start;
    });
  }

  /** Waits for queued writes, then closes RocksDB. Reads of the in-memory state still work. */
  async close(): Promise<void> {
    await this.queue;
    await this.db.close();
  }

  // ---- internals ---------------------------------------------------------------------------

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failed) {
        throw new Error(
          `raft storage: ${this.path}: an earlier write failed: ${this.failed.message}`,
        );
      }
      return task();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(ops: WriteOp[], sync = true): Promise<void> {
    let bytes = 0;
    for (const op of ops) bytes += op.key.length + (op.type === "put" ? op.value.length : 0);
    if (bytes > maxPersistBatchBytes) {
      throw new RangeError(
        `raft storage: ${this.path}: batch of ${bytes} bytes exceeds maxPersistBatchBytes ${maxPersistBatchBytes}`,
      );
    }
    if (sync) await this.diskFaults?.beforeSync();
    try {
      await this.db.write(ops, { sync });
    } catch (error) {
      this.failed = error as Error;
      throw error;
    }
  }

  private checkSnapshotData(data: Uint8Array): void {
    if (data.byteLength > maxSnapshotDataBytes) {
      throw new RangeError(
        `raft storage: ${this.path}: snapshot data of ${data.byteLength} bytes exceeds maxSnapshotDataBytes ${maxSnapshotDataBytes}`,
      );
    }
  }

  private invariant(ok: boolean, problem: () => string): asserts ok {
    if (!ok) throw new LogStorageInvariantError(this.path, problem());
  }

  private async persistNow(request: PersistRequest): Promise<void> {
    const ops: WriteOp[] = [];
    const oldLast = this.lastIndex();

    // 1. Snapshot: the log restarts after it (Raft §7).
    let start = this.start;
    let kept = this.log.length; // how many of this.log survive (a prefix)
    const snapshot = request.snapshot;
    if (snapshot) {
      const current = this.snap.metadata.index;
      if (snapshot.metadata.index < current) {
        throw new SnapshotOutOfDateError(snapshot.metadata.index, current);
      }
      this.checkSnapshotData(snapshot.data);
      start = { index: snapshot.metadata.index, term: snapshot.metadata.term };
      kept = 0;
      ops.push(
        { type: "put", key: snapshotMetaKey, value: encodeSnapshotMeta(snapshot.metadata) },
        { type: "put", key: snapshotDataKey, value: encodeSnapshotData(snapshot.data) },
        { type: "put", key: dummyKey, value: encodeLogStart(start) },
      );
    }

    // 2. Entries: skip what is compacted, overwrite the overlap, drop the stale tail (§5.3).
    let appended: Entry[] = [];
    let newLast = start.index + kept;
    const given = request.entries ?? [];
    if (given.length > 0 && given[given.length - 1]!.index > start.index) {
      appended =
        given[0]!.index <= start.index ? given.slice(start.index + 1 - given[0]!.index) : given;
      const first = appended[0]!.index;
      if (first > newLast + 1) throw new UnavailableError(first, newLast);
      kept = first - start.index - 1;
      let prevTerm = kept === 0 ? start.term : this.log[kept - 1]!.term;
      for (let i = 0; i < appended.length; i++) {
        const e = appended[i]!;
        this.invariant(
          e.index === first + i,
          () => `entries not contiguous: ${e.index} after ${first + i - 1}`,
        );
        this.invariant(
          e.term >= prevTerm,
          () => `term goes down at index ${e.index}: ${e.term} after ${prevTerm}`,
        );
        if (e.data.byteLength > maxEntryDataBytes) {
          throw new RangeError(
            `raft storage: ${this.path}: entry ${e.index} of ${e.data.byteLength} bytes exceeds maxEntryDataBytes ${maxEntryDataBytes}`,
          );
        }
        prevTerm = e.term;
        ops.push({ type: "put", key: entryKey(e.index), value: encodeEntry(e) });
      }
      newLast = appended[appended.length - 1]!.index;
    }
    // Every old entry outside (start.index, newLast] goes, in this same batch: those a new
    // snapshot covers, then the stale tail. (Two ranges, not a scan: O(deleted), not O(log).)
    const oldFirst = this.start.index + 1;
    for (let i = oldFirst; i <= Math.min(oldLast, start.index); i++) {
      ops.push({ type: "del", key: entryKey(i) });
    }
    for (let i = Math.max(oldFirst, start.index + 1, newLast + 1); i <= oldLast; i++) {
      ops.push({ type: "del", key: entryKey(i) });
    }

    // 3. Hard state.
    const hard = request.hardState ?? this.hard;
    if (request.hardState) {
      this.invariant(
        hard.commit >= this.hard.commit,
        () => `commit moves backwards: ${hard.commit} < ${this.hard.commit}`,
      );
      this.invariant(
        hard.term >= this.hard.term,
        () => `term moves backwards: ${hard.term} < ${this.hard.term}`,
      );
      ops.push({ type: "put", key: hardStateKey, value: encodeHardState(hard) });
    }
    this.invariant(
      hard.commit <= newLast,
      () =>
        `commit ${hard.commit} would be beyond the last index ${newLast} (committed entries lost)`,
    );

    if (ops.length === 0) return;
    const mustSync = request.sync !== false || snapshot !== undefined || appended.length > 0;
    await this.write(ops, mustSync);

    // Durable: now the core may see it.
    if (snapshot) {
      this.snap = snapshot;
      this.start = start;
      this.log = [];
    }
    if (appended.length > 0 || kept < this.log.length) {
      this.log.length = kept;
      for (const e of appended) this.log.push(e);
    }
    this.hard = { ...hard };
  }
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
