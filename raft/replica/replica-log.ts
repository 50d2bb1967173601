/**
 * The durable side of a replica's Raft log: the core reads it synchronously (Storage); the
 * replica writes each Ready through `persist`, which resolves once the write is durable.
 * RocksDB implements it for real nodes; MemoryReplicaLog is the twin for tests.
 */
import type { ConfState, Entry, HardState, Snapshot } from "../core/messages.ts";
import { MemoryStorage } from "../storage/memory.ts";
import type { Storage } from "../storage/storage.ts";

/** What one Ready asks to persist, in this order; durable (fsync'd) when the promise resolves. */
export interface PersistBatch {
  snapshot?: Snapshot | undefined;
  entries?: Entry[] | undefined;
  hardState?: HardState | undefined;
  /** false: durability not needed (only the commit index changed). Default true. */
  sync?: boolean | undefined;
}

export interface ReplicaLog extends Storage {
  persist(batch: PersistBatch): Promise<void>;
  /** Records a snapshot of the state machine at `index` (≤ applied) to serve lagging followers. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** Drops entries before `index` (they are covered by the snapshot). */
  compact(index: number): Promise<void>;
  close(): Promise<void>;
}

/** In memory, for tests and simulations: "durable" the moment it is written. */
export class MemoryReplicaLog implements ReplicaLog {
  readonly memory: MemoryStorage;

  constructor(confState: ConfState) {
    this.memory = new MemoryStorage(confState);
  }

  initialState() {
    return this.memory.initialState();
  }
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    return this.memory.entries(lo, hi, maxSizeBytes);
  }
  term(i: number): number {
    return this.memory.term(i);
  }
  firstIndex(): number {
    return this.memory.firstIndex();
  }
  lastIndex(): number {
    return this.memory.lastIndex();
  }
  snapshot(): Snapshot {
    return this.memory.snapshot();
  }

  async persist(batch: PersistBatch): Promise<void> {
    if (batch.snapshot) this.memory.applySnapshot(batch.snapshot);
    if (batch.entries && batch.entries.length > 0) this.memory.append(batch.entries);
    if (batch.hardState) this.memory.setHardState(batch.hardState);
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.memory.createSnapshot(index, confState, data);
  }

  async compact(index: number): Promise<void> {
    this.memory.compact(index);
  }

  async close(): Promise<void> {}
}
