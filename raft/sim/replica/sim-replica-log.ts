/**
 * The Raft log of a simulated server: the `ReplicaLog` the replica writes through, with
 * RocksLogStorage's contract (raft/storage/rocksdb.ts) on the simulated disk.
 *
 * - Writes run one at a time in call order; the view the core reads (`visible`) changes only once
 *   a write completed, as RocksLogStorage updates its in-memory state after the batch is written.
 * - `persist` syncs unless the batch only moves the commit index (etcd's MustSync: the real node
 *   skips the fsync then, so a crash may lose a commit index); snapshots and compaction sync.
 * - The invariants RocksLogStorage refuses to break are checked the same way (a commit or term
 *   moving backwards, a commit beyond the log): the replica would fail on the real node too.
 * - What survives a crash is the machine's `LogImage`, replayed from the write-ahead log.
 */
import type { ConfState, Entry, Snapshot } from "../../core/messages.ts";
import type { PersistBatch, ReplicaLog } from "../../replica/replica-log.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import type { SimRandom } from "../random.ts";
import type { CrashKind, ProcessDisk } from "./disk.ts";
import { NEVER, WriteAheadLog } from "./disk.ts";

type LogOp =
  | { kind: "persist"; batch: PersistBatch }
  | { kind: "snapshot"; index: number; confState: ConfState; data: Uint8Array }
  | { kind: "compact"; index: number };

function applyLogOp(storage: MemoryStorage, op: LogOp): void {
  switch (op.kind) {
    case "persist":
      if (op.batch.snapshot) storage.applySnapshot(op.batch.snapshot);
      if (op.batch.entries && op.batch.entries.length > 0) storage.append(op.batch.entries);
      if (op.batch.hardState) storage.setHardState(op.batch.hardState);
      return;
    case "snapshot":
      storage.createSnapshot(op.index, op.confState, op.data);
      return;
    case "compact":
      storage.compact(op.index);
      return;
  }
}

/** A copy of `from` (sharing its immutable entries and snapshot data). */
export function copyStorage(from: MemoryStorage): MemoryStorage {
  const snap = from.snapshot();
  const offset = from.firstIndex() - 1;
  const last = from.lastIndex();
  if (snap.metadata.index < offset) {
    throw new Error(
      `log copy: compacted to ${offset}, past the snapshot at ${snap.metadata.index}`,
    );
  }
  const to = new MemoryStorage(snap.metadata.confState);
  if (offset > 0) {
    // MemoryStorage keeps its compaction point apart from its latest snapshot, as RocksDB keeps
    // the log start apart from the snapshot: rebuild both.
    to.applySnapshot(
      offset === snap.metadata.index
        ? snap
        : {
            metadata: {
              index: offset,
              term: from.term(offset),
              confState: snap.metadata.confState,
            },
            data: new Uint8Array(),
          },
    );
  }
  if (last > offset) to.append(from.entries(offset + 1, last + 1, Number.POSITIVE_INFINITY));
  if (snap.metadata.index > offset) {
    to.createSnapshot(snap.metadata.index, snap.metadata.confState, snap.data);
  }
  to.setHardState(from.hardStateNow());
  return to;
}

/** What the machine's log database holds: the durable image and the writes not yet synced. */
export class LogImage {
  durable: MemoryStorage;
  readonly wal: WriteAheadLog<LogOp>;

  constructor(bootstrap: ConfState) {
    this.durable = new MemoryStorage(bootstrap);
    this.wal = new WriteAheadLog((op) => applyLogOp(this.durable, op));
  }

  crash(kind: CrashKind, random: SimRandom): number {
    return this.wal.crash(kind, random);
  }
}

export class SimReplicaLog implements ReplicaLog {
  /** What the core reads: the log as of the last completed write. */
  readonly visible: MemoryStorage;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly image: LogImage,
    private readonly disk: ProcessDisk,
    /** Told after each completed persist (the simulator checks its invariants there). */
    private readonly onPersisted: (batch: PersistBatch, visible: MemoryStorage) => void,
  ) {
    this.visible = copyStorage(image.durable);
  }

  initialState() {
    return this.visible.initialState();
  }
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    return this.visible.entries(lo, hi, maxSizeBytes);
  }
  term(i: number): number {
    return this.visible.term(i);
  }
  firstIndex(): number {
    return this.visible.firstIndex();
  }
  lastIndex(): number {
    return this.visible.lastIndex();
  }
  snapshot(): Snapshot {
    return this.visible.snapshot();
  }

  persist(batch: PersistBatch): Promise<void> {
    return this.enqueue(async () => {
      this.checkPersist(batch);
      const sync =
        batch.sync !== false ||
        batch.snapshot !== undefined ||
        (batch.entries !== undefined && batch.entries.length > 0);
      await this.write({ kind: "persist", batch }, sync);
      this.onPersisted(batch, this.visible);
    });
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.enqueue(async () => {
      // Checked before the write, as RocksLogStorage does: a refused snapshot writes nothing.
      const current = this.visible.snapshot().metadata.index;
      if (index <= current || index > this.visible.lastIndex() || index < this.firstIndex() - 1) {
        throw new Error(
          `raft storage: cannot snapshot at ${index} (snapshot ${current}, log ` +
            `${this.firstIndex()}..${this.lastIndex()})`,
        );
      }
      await this.write({ kind: "snapshot", index, confState, data }, true);
      return this.visible.snapshot();
    });
  }

  compact(index: number): Promise<void> {
    return this.enqueue(async () => {
      if (index < this.firstIndex() || index > this.lastIndex()) {
        throw new Error(
          `raft storage: cannot compact to ${index} (log ${this.firstIndex()}..${this.lastIndex()})`,
        );
      }
      await this.write({ kind: "compact", index }, true);
    });
  }

  async close(): Promise<void> {}

  private async write(op: LogOp, sync: boolean): Promise<void> {
    if (!this.disk.alive) await NEVER;
    this.image.wal.append(op);
    await this.disk.complete(sync);
    if (sync) this.image.wal.sync();
    applyLogOp(this.visible, op);
  }

  /** RocksLogStorage's checks of a persist batch (LogStorageInvariantError on the real node). */
  private checkPersist(batch: PersistBatch): void {
    const current = this.visible.hardStateNow();
    const hs = batch.hardState;
    if (batch.snapshot && batch.snapshot.metadata.index < this.visible.snapshot().metadata.index) {
      throw new Error(
        `raft storage: snapshot at ${batch.snapshot.metadata.index} is older than the current one`,
      );
    }
    if (hs === undefined) return;
    if (hs.commit < current.commit) {
      throw new Error(`raft storage: commit moves backwards: ${hs.commit} < ${current.commit}`);
    }
    if (hs.term < current.term) {
      throw new Error(`raft storage: term moves backwards: ${hs.term} < ${current.term}`);
    }
    const entries = batch.entries ?? [];
    const lastIndex =
      entries.length > 0
        ? entries[entries.length - 1]!.index
        : batch.snapshot
          ? batch.snapshot.metadata.index
          : this.visible.lastIndex();
    if (hs.commit > lastIndex) {
      throw new Error(
        `raft storage: commit ${hs.commit} would be beyond the last index ${lastIndex} (committed entries lost)`,
      );
    }
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
