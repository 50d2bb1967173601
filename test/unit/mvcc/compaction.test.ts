/** Compaction (etcd's kvstore Compact): old revisions go, the latest version of each live key stays. */
import { describe, expect, it } from "vitest";
import type { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { b, Driver } from "./harness.ts";

describe("compaction", () => {
  async function history(): Promise<Driver> {
    const d = await Driver.memory();
    await d.put("a", "a1"); // 2
    await d.put("a", "a2"); // 3
    await d.put("b", "b1"); // 4
    await d.del("b"); // 5
    await d.put("c", "c1"); // 6
    return d;
  }

  it("ranges below the compact revision are compacted errors; at and above it they are served", async () => {
    const d = await history();
    expect(await d.run({ op: "compact", revision: 5 })).toMatchObject({
      kind: "compact",
      header: { revision: 6 },
    });
    expect(d.store.compactRevision).toBe(5);
    expect(await d.store.range({ key: b("a"), revision: 4 })).toMatchObject({
      kind: "error",
      error: "compacted",
      compactRevision: 5,
    });
    expect(await d.all(5)).toEqual([["a", "a2"]]);
    expect(await d.all(6)).toEqual([
      ["a", "a2"],
      ["c", "c1"],
    ]);
    expect(await d.get("a")).toMatchObject({ create: 2, mod: 3, version: 2 });
  });

  it("removes superseded rows and tombstones from the backend", async () => {
    const d = await history();
    const backend = d.backend as MemoryBackend;
    const before = backend.size;
    await d.run({ op: "compact", revision: 6 });
    // a2, c1 stay; a1, b1 and b's tombstone go.
    expect(backend.size).toBe(before - 3);
    await d.reopen();
    expect(await d.all()).toEqual([
      ["a", "a2"],
      ["c", "c1"],
    ]);
    expect(d.store.compactRevision).toBe(6);
  });

  it("compacting again at or below, or beyond the current revision, is an error", async () => {
    const d = await history();
    await d.run({ op: "compact", revision: 4 });
    expect(await d.run({ op: "compact", revision: 4 })).toMatchObject({
      error: "compacted",
      compactRevision: 4,
    });
    expect(await d.run({ op: "compact", revision: 3 })).toMatchObject({ error: "compacted" });
    expect(await d.run({ op: "compact", revision: 7 })).toMatchObject({
      error: "future revision",
      currentRevision: 6,
    });
  });

  it("a key recreated after compaction starts a new generation", async () => {
    const d = await history();
    await d.run({ op: "compact", revision: 6 });
    await d.put("b", "b2"); // 7
    expect(await d.get("b")).toMatchObject({ create: 7, version: 1 });
  });
});
