/** MemoryStorage: the in-memory twin of durable storage (etcd's MemoryStorage semantics). */
import { describe, expect, it } from "vitest";
import type { Entry } from "../../../raft/core/messages.ts";
import { emptyConfState } from "../../../raft/core/messages.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";
import {
  CompactedError,
  SnapshotOutOfDateError,
  UnavailableError,
} from "../../../raft/storage/storage.ts";

const ent = (index: number, term: number, size = 0): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array(size),
});

function withEntries(terms: number[]): MemoryStorage {
  const s = new MemoryStorage({ ...emptyConfState(), voters: ["n1"] });
  s.append(terms.map((t, i) => ent(i + 1, t)));
  return s;
}

describe("MemoryStorage", () => {
  it("appends, and truncates a conflicting suffix on overlap (Raft §5.3)", () => {
    const s = withEntries([1, 1, 1]);
    s.append([ent(2, 2), ent(3, 2), ent(4, 2)]);
    expect([1, 2, 3, 4].map((i) => s.term(i))).toEqual([1, 2, 2, 2]);
    s.append([ent(3, 3)]);
    expect(s.lastIndex()).toBe(3);
    expect(s.term(3)).toBe(3);
    expect(() => s.append([ent(6, 3)])).toThrow(UnavailableError); // a gap
  });

  it("serves entries in [lo, hi) bounded by size, but always at least one", () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1, 100), ent(2, 1, 100), ent(3, 1, 100)]);
    expect(s.entries(1, 4, 1_000_000)).toHaveLength(3);
    expect(s.entries(1, 4, 250)).toHaveLength(2);
    expect(s.entries(1, 4, 1)).toHaveLength(1);
    expect(() => s.entries(1, 5, 1000)).toThrow(UnavailableError);
  });

  it("compacts: entries at or below the compaction index are gone, its term is remembered", () => {
    const s = withEntries([1, 1, 2, 2, 3]);
    s.createSnapshot(3, { ...emptyConfState(), voters: ["n1"] }, new Uint8Array([9]));
    s.compact(3);
    expect(s.firstIndex()).toBe(4);
    expect(s.lastIndex()).toBe(5);
    expect(s.term(3)).toBe(2);
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.entries(3, 5, 1000)).toThrow(CompactedError);
    expect(() => s.compact(2)).toThrow(CompactedError);
    expect(s.snapshot().metadata).toMatchObject({ index: 3, term: 2 });
  });

  it("refuses snapshots older than the current one", () => {
    const s = withEntries([1, 1, 1]);
    s.createSnapshot(2, emptyConfState(), new Uint8Array());
    expect(() => s.createSnapshot(1, emptyConfState(), new Uint8Array())).toThrow(
      SnapshotOutOfDateError,
    );
    expect(() =>
      s.applySnapshot({
        metadata: { index: 1, term: 1, confState: emptyConfState() },
        data: new Uint8Array(),
      }),
    ).toThrow(SnapshotOutOfDateError);
  });

  it("applySnapshot replaces the whole log", () => {
    const s = withEntries([1, 1, 1]);
    s.applySnapshot({
      metadata: { index: 10, term: 4, confState: { ...emptyConfState(), voters: ["n1", "n2"] } },
      data: new Uint8Array(),
    });
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(4);
    expect(s.initialState().confState.voters).toEqual(["n1", "n2"]);
  });
});
