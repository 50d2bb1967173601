/**
 * The two Storage implementations behind one async face, so the same contract runs against
 * both: MemoryStorage (synchronous, wrapped) and RocksLogStorage (each change one synced batch).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfState, Entry, HardState, Snapshot } from "../../../raft/core/messages.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";
import { RocksLogStorage } from "../../../raft/storage/rocksdb.ts";
import type { Storage } from "../../../raft/storage/storage.ts";

export interface StorageSubject {
  readonly storage: Storage;
  append(entries: Entry[]): Promise<void>;
  setHardState(hs: HardState): Promise<void>;
  applySnapshot(snap: Snapshot): Promise<void>;
  createSnapshot(index: number, cs: ConfState, data: Uint8Array): Promise<Snapshot>;
  compact(index: number): Promise<void>;
  /** Close and open again from disk (a no-op for memory). */
  reopen(): Promise<void>;
  /** Release everything (the temp dir too). */
  dispose(): Promise<void>;
}

export interface SubjectKind {
  name: string;
  create(confState?: ConfState): Promise<StorageSubject>;
}

export const memorySubject: SubjectKind = {
  name: "MemoryStorage",
  async create(confState) {
    const m = new MemoryStorage(confState);
    return {
      storage: m,
      append: async (e) => m.append(e),
      setHardState: async (hs) => m.setHardState(hs),
      applySnapshot: async (s) => m.applySnapshot(s),
      createSnapshot: async (i, cs, d) => m.createSnapshot(i, cs, d),
      compact: async (i) => m.compact(i),
      reopen: async () => {},
      dispose: async () => {},
    };
  },
};

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "bosun-raftlog-"));
}

export const rocksSubject: SubjectKind = {
  name: "RocksLogStorage",
  async create(confState) {
    const dir = tempDir();
    const path = join(dir, "log");
    let r = await RocksLogStorage.open(path, confState ? { confState } : {});
    return {
      get storage() {
        return r;
      },
      append: (e) => r.append(e),
      setHardState: (hs) => r.setHardState(hs),
      applySnapshot: (s) => r.applySnapshot(s),
      createSnapshot: (i, cs, d) => r.createSnapshot(i, cs, d),
      compact: (i) => r.compact(i),
      async reopen() {
        await r.close();
        r = await RocksLogStorage.open(path, { createIfMissing: false });
      },
      async dispose() {
        await r.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export function ents(first: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({
    index: first + i,
    term,
    type: "normal" as const,
    data: new Uint8Array([first + i, term]),
  }));
}

/** RocksLogStorage closed and reopened from disk after every change: reads come from disk. */
export const rocksReopenedSubject: SubjectKind = {
  name: "RocksLogStorage (reopened after each change)",
  async create(confState) {
    const s = await rocksSubject.create(confState);
    const then =
      <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const r = await f(...a);
        await s.reopen();
        return r;
      };
    return {
      get storage() {
        return s.storage;
      },
      append: then(s.append),
      setHardState: then(s.setHardState),
      applySnapshot: then(s.applySnapshot),
      createSnapshot: then(s.createSnapshot),
      compact: then(s.compact),
      reopen: s.reopen,
      dispose: s.dispose,
    };
  },
};
