/**
 * The Storage contract (etcd-io/raft storage_test.go), run against MemoryStorage and
 * RocksLogStorage alike: same inputs, same observable state, same errors.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConfState, Snapshot } from "../../../raft/core/messages.ts";
import {
  CompactedError,
  SnapshotOutOfDateError,
  UnavailableError,
} from "../../../raft/storage/storage.ts";
import {
  ents,
  memorySubject,
  rocksReopenedSubject,
  rocksSubject,
  type StorageSubject,
} from "./subjects.ts";

const cs: ConfState = {
  voters: ["n1", "n2", "n3"],
  learners: ["n4"],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

function snapshotAt(index: number, term: number, data = [7, 7]): Snapshot {
  return { metadata: { index, term, confState: cs }, data: new Uint8Array(data) };
}

describe.each([memorySubject, rocksSubject, rocksReopenedSubject])(
  "Storage contract: $name",
  (kind) => {
    let s: StorageSubject;
    beforeEach(async () => {
      s = await kind.create(cs);
    });
    afterEach(async () => {
      await s.dispose();
    });

    /** etcd's fixture: a log compacted at 3, holding entries 4 and 5 (terms 3, 4, 5). */
    async function compactedAt3(): Promise<void> {
      await s.append(ents(1, [1, 2, 3, 4, 5]));
      await s.compact(3);
    }

    it("starts empty: first index 1, last index 0, term(0) = 0, the bootstrap membership", () => {
      const st = s.storage;
      expect(st.firstIndex()).toBe(1);
      expect(st.lastIndex()).toBe(0);
      expect(st.term(0)).toBe(0);
      expect(st.entries(1, 1, Infinity)).toEqual([]);
      expect(st.initialState()).toEqual({
        hardState: { term: 0, vote: null, commit: 0 },
        confState: cs,
      });
      expect(st.snapshot().metadata).toEqual({ index: 0, term: 0, confState: cs });
    });

    it("term(i): compacted below the dummy, known from the dummy to the last, unavailable after", async () => {
      await compactedAt3();
      const st = s.storage;
      expect(() => st.term(2)).toThrow(CompactedError);
      expect(st.term(3)).toBe(3);
      expect(st.term(4)).toBe(4);
      expect(st.term(5)).toBe(5);
      expect(() => st.term(6)).toThrow(UnavailableError);
    });

    it("entries(lo, hi, maxSize): bounds errors and the size limit (always at least one)", async () => {
      await compactedAt3();
      await s.append(ents(6, [6]));
      const st = s.storage;
      const size = 16 + 2; // entrySizeBytes of a 2-byte entry
      expect(() => st.entries(2, 6, Infinity)).toThrow(CompactedError);
      expect(() => st.entries(3, 4, Infinity)).toThrow(CompactedError);
      expect(() => st.entries(4, 8, Infinity)).toThrow(UnavailableError);
      expect(st.entries(4, 5, Infinity)).toEqual(ents(4, [4]));
      expect(st.entries(4, 7, Infinity)).toEqual(ents(4, [4, 5, 6]));
      expect(st.entries(4, 7, 0)).toEqual(ents(4, [4]));
      expect(st.entries(4, 7, 2 * size)).toEqual(ents(4, [4, 5]));
      expect(st.entries(4, 7, 2 * size + 1)).toEqual(ents(4, [4, 5]));
      expect(st.entries(4, 7, 3 * size)).toEqual(ents(4, [4, 5, 6]));
      expect(st.entries(5, 5, Infinity)).toEqual([]);
    });

    it("firstIndex and lastIndex follow appends and compaction", async () => {
      await compactedAt3();
      expect(s.storage.firstIndex()).toBe(4);
      expect(s.storage.lastIndex()).toBe(5);
      await s.append(ents(6, [5]));
      expect(s.storage.lastIndex()).toBe(6);
      await s.compact(4);
      expect(s.storage.firstIndex()).toBe(5);
      expect(s.storage.term(4)).toBe(4);
    });

    it("compact: at or below the dummy is CompactedError, past the end UnavailableError", async () => {
      await compactedAt3();
      await expect(s.compact(2)).rejects.toBeInstanceOf(CompactedError);
      await expect(s.compact(3)).rejects.toBeInstanceOf(CompactedError);
      await expect(s.compact(6)).rejects.toBeInstanceOf(UnavailableError);
      await s.compact(5);
      expect(s.storage.firstIndex()).toBe(6);
      expect(s.storage.lastIndex()).toBe(5);
      expect(s.storage.term(5)).toBe(5);
    });

    it("createSnapshot: records index, term, membership and data; refuses old or unknown indexes", async () => {
      await compactedAt3();
      const data = new Uint8Array([1, 2, 3]);
      const snap = await s.createSnapshot(4, cs, data);
      expect(snap.metadata).toEqual({ index: 4, term: 4, confState: cs });
      expect(s.storage.snapshot().metadata).toEqual({ index: 4, term: 4, confState: cs });
      expect(s.storage.snapshot().data).toEqual(data);
      await expect(s.createSnapshot(4, cs, data)).rejects.toBeInstanceOf(SnapshotOutOfDateError);
      await expect(s.createSnapshot(6, cs, data)).rejects.toBeInstanceOf(UnavailableError);
      expect(s.storage.lastIndex()).toBe(5); // the log is untouched
    });

    it("applySnapshot replaces the log; an older snapshot is refused", async () => {
      await s.append(ents(1, [1, 1, 2]));
      const cs2: ConfState = { ...cs, voters: ["n1", "n2", "n3", "n4"], learners: [] };
      await s.applySnapshot({
        metadata: { index: 10, term: 4, confState: cs2 },
        data: new Uint8Array([9]),
      });
      const st = s.storage;
      expect(st.firstIndex()).toBe(11);
      expect(st.lastIndex()).toBe(10);
      expect(st.term(10)).toBe(4);
      expect(() => st.term(9)).toThrow(CompactedError);
      expect(st.initialState().confState).toEqual(cs2);
      expect(st.snapshot().data).toEqual(new Uint8Array([9]));
      await expect(s.applySnapshot(snapshotAt(9, 4))).rejects.toBeInstanceOf(
        SnapshotOutOfDateError,
      );
      await s.append(ents(11, [4, 5]));
      expect(s.storage.entries(11, 13, Infinity)).toEqual(ents(11, [4, 5]));
    });

    it("append truncates a conflicting suffix (Raft §5.3) and overwrites the overlap", async () => {
      await s.append(ents(1, [1, 1, 1, 1, 1]));
      await s.append(ents(3, [2, 2]));
      expect(s.storage.lastIndex()).toBe(4);
      expect(s.storage.entries(1, 5, Infinity)).toEqual([...ents(1, [1, 1]), ...ents(3, [2, 2])]);
      await s.append(ents(2, [1, 3, 3, 3, 3]));
      expect(s.storage.lastIndex()).toBe(6);
      expect(s.storage.entries(1, 7, Infinity)).toEqual([
        ...ents(1, [1]),
        ...ents(2, [1, 3, 3, 3, 3]),
      ]);
    });

    it("append skips the compacted part of what it is given, and refuses a gap", async () => {
      await compactedAt3();
      await s.append(ents(1, [3, 3])); // entirely compacted: nothing changes
      expect(s.storage.lastIndex()).toBe(5);
      await s.append(ents(2, [3, 3, 6, 6])); // 2, 3 compacted; 4, 5 replaced
      expect(s.storage.entries(4, 6, Infinity)).toEqual(ents(4, [6, 6]));
      await expect(s.append(ents(7, [7]))).rejects.toBeInstanceOf(UnavailableError);
      expect(s.storage.lastIndex()).toBe(5);
    });

    it("keeps the hard state and hands it back in initialState", async () => {
      await s.append(ents(1, [1, 2]));
      await s.setHardState({ term: 2, vote: "n2", commit: 2 });
      expect(s.storage.initialState().hardState).toEqual({ term: 2, vote: "n2", commit: 2 });
    });
  },
);
