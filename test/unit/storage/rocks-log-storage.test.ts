/**
 * RocksLogStorage beyond the shared contract: what survives a reopen, the invariants it refuses
 * to break, its limits, and how it refuses to start from an inconsistent or corrupted log.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConfState } from "../../../raft/core/messages.ts";
import {
  RocksDb,
  RocksDbClosedError,
  RocksDbCorruptionError,
} from "../../../raft/storage/rocks/db.ts";
import { entryKey } from "../../../raft/storage/rocks/log-codec.ts";
import {
  LogStorageInconsistentError,
  LogStorageInvariantError,
  maxEntryDataBytes,
  RocksLogStorage,
} from "../../../raft/storage/rocksdb.ts";
import { ents, tempDir } from "./subjects.ts";

const cs: ConfState = {
  voters: ["n1"],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

describe("RocksLogStorage", () => {
  let dir: string;
  let path: string;
  let s: RocksLogStorage | undefined;

  beforeEach(async () => {
    dir = tempDir();
    path = join(dir, "log");
    s = await RocksLogStorage.open(path, { confState: cs });
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function reopen(): Promise<RocksLogStorage> {
    await s!.close();
    s = undefined;
    s = await RocksLogStorage.open(path, { createIfMissing: false });
    return s;
  }

  describe("reopen from disk gives the same state", () => {
    it("entries, hard state, snapshot and the bootstrap membership", async () => {
      await s!.persist({
        entries: ents(1, [1, 1, 2, 2, 3]),
        hardState: { term: 3, vote: "n1", commit: 4 },
      });
      await s!.createSnapshot(3, cs, new Uint8Array([1, 2, 3]));
      await s!.compact(2);
      const r = await reopen();
      expect(r.firstIndex()).toBe(3);
      expect(r.lastIndex()).toBe(5);
      expect(r.term(2)).toBe(1);
      expect(r.entries(3, 6, Infinity)).toEqual(ents(3, [2, 2, 3]));
      expect(r.initialState()).toEqual({
        hardState: { term: 3, vote: "n1", commit: 4 },
        confState: cs,
      });
      expect(r.snapshot()).toEqual({
        metadata: { index: 3, term: 2, confState: cs },
        data: new Uint8Array([1, 2, 3]),
      });
    });

    it("a snapshot, entries and hard state persisted together", async () => {
      await s!.append(ents(1, [1, 1, 1]));
      await s!.persist({
        snapshot: { metadata: { index: 10, term: 2, confState: cs }, data: new Uint8Array([5]) },
        entries: ents(9, [2, 2, 3]), // 9 and 10 are covered by the snapshot: skipped
        hardState: { term: 3, vote: null, commit: 10 },
      });
      const r = await reopen();
      expect([r.firstIndex(), r.lastIndex(), r.term(10), r.term(11)]).toEqual([11, 11, 2, 3]);
      expect(r.hardStateNow()).toEqual({ term: 3, vote: null, commit: 10 });
      expect(r.snapshot().data).toEqual(new Uint8Array([5]));
    });

    it("the truncated tail stays deleted", async () => {
      await s!.append(ents(1, [1, 1, 1, 1, 1, 1]));
      await s!.append(ents(3, [2]));
      const r = await reopen();
      expect(r.lastIndex()).toBe(3);
      const db = await RocksDb.open(path, { createIfMissing: false }).catch((e) => e);
      expect(db).toBeInstanceOf(Error); // still locked by r: RocksDB allows one opener
      await r.close();
      s = undefined;
      const raw = await RocksDb.open(path, { createIfMissing: false });
      expect(await raw.get(entryKey(4))).toBeUndefined();
      expect(await raw.get(entryKey(3))).toBeDefined();
      await raw.close();
    });
  });

  describe("invariants (nothing is written when one would break)", () => {
    it("entries must be contiguous", async () => {
      const bad = [...ents(1, [1]), ...ents(3, [1])];
      await expect(s!.append(bad)).rejects.toBeInstanceOf(LogStorageInvariantError);
      expect(s!.lastIndex()).toBe(0);
    });

    it("terms never decrease along the log", async () => {
      await s!.append(ents(1, [2, 2]));
      await expect(s!.append(ents(3, [1]))).rejects.toThrow(/term goes down at index 3/);
      await expect(s!.append(ents(3, [3, 2]))).rejects.toBeInstanceOf(LogStorageInvariantError);
      expect(s!.lastIndex()).toBe(2);
    });

    it("the persisted commit never moves backwards, nor the term", async () => {
      await s!.persist({ entries: ents(1, [1, 1]), hardState: { term: 1, vote: null, commit: 2 } });
      await expect(s!.setHardState({ term: 1, vote: null, commit: 1 })).rejects.toThrow(
        /commit moves backwards/,
      );
      await expect(s!.setHardState({ term: 0, vote: null, commit: 2 })).rejects.toThrow(
        /term moves backwards/,
      );
      expect((await reopen()).hardStateNow()).toEqual({ term: 1, vote: null, commit: 2 });
    });

    it("commit stays within the log: truncating committed entries is refused", async () => {
      await s!.persist({
        entries: ents(1, [1, 1, 1]),
        hardState: { term: 1, vote: null, commit: 3 },
      });
      await expect(s!.append(ents(2, [2]))).rejects.toThrow(
        /commit 3 would be beyond the last index 2/,
      );
      await expect(s!.setHardState({ term: 1, vote: null, commit: 4 })).rejects.toBeInstanceOf(
        LogStorageInvariantError,
      );
      expect(s!.lastIndex()).toBe(3);
    });
  });

  describe("limits", () => {
    it("refuses an entry larger than maxEntryDataBytes", async () => {
      const big = {
        index: 1,
        term: 1,
        type: "normal" as const,
        data: new Uint8Array(maxEntryDataBytes + 1),
      };
      await expect(s!.append([big])).rejects.toThrow(/exceeds maxEntryDataBytes/);
      expect(s!.lastIndex()).toBe(0);
    });
  });

  it("serializes concurrent persists in call order", async () => {
    const writes = [];
    for (let i = 1; i <= 50; i++) writes.push(s!.append(ents(i, [1])));
    await Promise.all(writes);
    expect(s!.lastIndex()).toBe(50);
    expect((await reopen()).lastIndex()).toBe(50);
  });

  it("refuses writes after close", async () => {
    await s!.close();
    await expect(s!.append(ents(1, [1]))).rejects.toBeInstanceOf(RocksDbClosedError);
    s = undefined;
  });

  describe("refuses to start from a log it cannot trust", () => {
    async function tamper(f: (db: RocksDb) => Promise<void>): Promise<void> {
      await s!.close();
      s = undefined;
      const db = await RocksDb.open(path, { createIfMissing: false });
      await f(db);
      await db.close();
    }

    it("a gap in the log", async () => {
      await s!.append(ents(1, [1, 1, 1]));
      await tamper((db) => db.write([{ type: "del", key: entryKey(2) }], { sync: true }));
      await expect(RocksLogStorage.open(path)).rejects.toThrow(
        new LogStorageInconsistentError(
          path,
          "the log has a gap: expected index 2, found 3 (a write lost to WAL corruption?)",
        ),
      );
    });

    it("a hard state whose commit is past the last index", async () => {
      await s!.persist({
        entries: ents(1, [1, 1, 1]),
        hardState: { term: 1, vote: null, commit: 3 },
      });
      await tamper((db) => db.write([{ type: "del", key: entryKey(3) }], { sync: true }));
      await expect(RocksLogStorage.open(path)).rejects.toThrow(
        /hard state commit 3 is beyond the last log index 2/,
      );
    });

    it("an entry value that fails its checksum", async () => {
      await s!.append(ents(1, [1, 1]));
      await tamper(async (db) => {
        const v = Buffer.from((await db.get(entryKey(2)))!);
        v[v.length - 1] = v[v.length - 1]! ^ 1;
        await db.write([{ type: "put", key: entryKey(2), value: v }], { sync: true });
      });
      const err = await RocksLogStorage.open(path).catch((e: Error) => e);
      expect(err).toBeInstanceOf(RocksDbCorruptionError);
      expect((err as Error).message).toMatch(/corruption in .*log entry: checksum mismatch/);
    });

    it("an entry stored under another index's key", async () => {
      await s!.append(ents(1, [1, 1]));
      await tamper(async (db) => {
        const v = (await db.get(entryKey(1)))!;
        await db.write([{ type: "put", key: entryKey(2), value: v }], { sync: true });
      });
      await expect(RocksLogStorage.open(path)).rejects.toThrow(/index 2 holds entry 1/);
    });

    it("a directory that holds some other RocksDB database", async () => {
      await tamper((db) => db.write([{ type: "del", key: Buffer.from("V") }], { sync: true }));
      await expect(RocksLogStorage.open(path)).rejects.toThrow(/no format version/);
    });

    it("a flipped byte in CURRENT, MANIFEST or a table file, naming the file", async () => {
      const batch = Array.from({ length: 200 }, (_, i) => ({
        index: i + 1,
        term: 1,
        type: "normal" as const,
        data: new Uint8Array(300).fill(i),
      }));
      await s!.append(batch);
      // Flush the memtable into a table file, so the data lives in an .sst.
      await tamper((db) => db.compactRange(Buffer.from([0]), Buffer.from([0xff])));
      const pristine = new Map(readdirSync(path).map((f) => [f, readFileSync(join(path, f))]));
      const restore = () => {
        for (const [f, b] of pristine) writeFileSync(join(path, f), b);
      };
      const flip = (file: string, at: number) => {
        const b = Buffer.from(pristine.get(file)!);
        for (let i = at; i < Math.min(at + 8, b.length); i++) b[i] = b[i]! ^ 0xff;
        writeFileSync(join(path, file), b);
      };
      const names = [...pristine.keys()];
      const sst = names.find((f) => f.endsWith(".sst"))!;
      const manifest = names.find((f) => f.startsWith("MANIFEST-"))!;
      expect(sst).toBeDefined();

      flip("CURRENT", 0);
      await expect(RocksLogStorage.open(path)).rejects.toThrow(
        `rocksdb: corruption in ${path}/CURRENT: `,
      );
      restore();
      flip(manifest, 20);
      await expect(RocksLogStorage.open(path)).rejects.toThrow(
        new RegExp(
          `rocksdb: corruption in ${path} \\(RocksDB named no file; suspects: ${manifest}`,
        ),
      );
      restore();
      flip(sst, 100); // inside the first data block: its checksum fails
      await expect(RocksLogStorage.open(path)).rejects.toThrow(
        `rocksdb: corruption in ${path}/${sst}: `,
      );
      restore();
      const r = await RocksLogStorage.open(path);
      expect(r.lastIndex()).toBe(200);
      s = r;
    });
  });
});
