/**
 * etcd v3 revision semantics (server/storage/mvcc kvstore.go, key_index.go): one revision per
 * write txn, create/mod revision and version per key generation, reads at old revisions.
 */
import { describe, expect, it } from "vitest";
import { prefixRangeEnd } from "../../../raft/mvcc/key-range.ts";
import { b, Driver, str } from "./harness.ts";

describe("revisions", () => {
  it("a fresh store is at revision 1; each put makes one revision", async () => {
    const d = await Driver.memory();
    expect(d.store.currentRevision).toBe(1);
    expect((await d.put("a", "1")).header.revision).toBe(2);
    expect((await d.put("b", "1")).header.revision).toBe(3);
    expect(d.store.currentRevision).toBe(3);
  });

  it("a txn writing many keys makes exactly one revision, keys ordered by sub-revision", async () => {
    const d = await Driver.memory();
    const r = await d.run({
      op: "txn",
      compare: [],
      success: [
        { op: "put", key: b("x"), value: b("1") },
        { op: "put", key: b("y"), value: b("2") },
        { op: "deleteRange", key: b("z") },
      ],
      failure: [],
    });
    expect(r.header.revision).toBe(2);
    expect((await d.get("x"))?.mod).toBe(2);
    expect((await d.get("y"))?.mod).toBe(2);
    const w = d.store.watch({ key: b("x"), rangeEnd: b("z"), startRevision: 2 });
    const ev = await w.next();
    expect(ev?.kind === "events" && ev.events.map((e) => e.kv.key.toString())).toEqual(["x", "y"]);
    w.cancel();
  });

  it("reads, no-op deletes and read-only txns make no revision", async () => {
    const d = await Driver.memory();
    await d.put("a", "1");
    expect((await d.del("nothing")).header.revision).toBe(2);
    const t = await d.run({
      op: "txn",
      compare: [],
      success: [{ op: "range", key: b("a") }],
      failure: [],
    });
    expect(t.header.revision).toBe(2);
    await d.store.range({ key: b("a") });
    expect(d.store.currentRevision).toBe(2);
  });

  it("createRevision, modRevision and version follow put, put, delete, recreate", async () => {
    const d = await Driver.memory();
    await d.put("k", "v1"); // rev 2
    expect(await d.get("k")).toEqual({
      key: "k",
      value: "v1",
      create: 2,
      mod: 2,
      version: 1,
      lease: 0,
    });
    await d.put("k", "v2"); // rev 3
    expect(await d.get("k")).toEqual({
      key: "k",
      value: "v2",
      create: 2,
      mod: 3,
      version: 2,
      lease: 0,
    });
    const del = await d.del("k"); // rev 4
    expect(del).toMatchObject({ kind: "deleteRange", deleted: 1, header: { revision: 4 } });
    expect(await d.get("k")).toBeUndefined();
    await d.put("k", "v3"); // rev 5: a new generation
    expect(await d.get("k")).toEqual({
      key: "k",
      value: "v3",
      create: 5,
      mod: 5,
      version: 1,
      lease: 0,
    });
  });

  it("range at an older revision sees the state of that revision", async () => {
    const d = await Driver.memory();
    await d.put("k", "v1"); // 2
    await d.put("k", "v2"); // 3
    await d.del("k"); // 4
    expect((await d.get("k", 2))?.value).toBe("v1");
    expect((await d.get("k", 3))?.value).toBe("v2");
    expect(await d.get("k", 4)).toBeUndefined();
    expect(await d.get("k", 1)).toBeUndefined();
  });

  it("a revision beyond the current one is a future-revision error", async () => {
    const d = await Driver.memory();
    await d.put("k", "v");
    expect(await d.store.range({ key: b("k"), revision: 3 })).toMatchObject({
      kind: "error",
      error: "future revision",
      currentRevision: 2,
    });
  });

  it("put returns the previous key/value when asked", async () => {
    const d = await Driver.memory();
    expect(await d.put("k", "v1", { prevKv: true })).not.toHaveProperty("prevKv");
    const r = await d.put("k", "v2", { prevKv: true });
    expect(r.kind === "put" && r.prevKv && str(r.prevKv)).toMatchObject({ value: "v1", mod: 2 });
  });

  it("ignoreValue keeps the value, ignoreLease keeps the lease, both need the key", async () => {
    const d = await Driver.memory();
    expect(await d.put("k", "", { ignoreValue: true })).toMatchObject({ error: "key not found" });
    await d.run({ op: "leaseGrant", id: 7, ttlMs: 10_000, nowMs: 0 });
    await d.put("k", "v1", { lease: 7 });
    await d.put("k", "", { ignoreValue: true, ignoreLease: true });
    expect(await d.get("k")).toMatchObject({ value: "v1", version: 2, lease: 7 });
    expect(await d.put("k", "x", { ignoreValue: true })).toMatchObject({ error: "value provided" });
    expect(await d.put("k", "x", { ignoreLease: true, lease: 7 })).toMatchObject({
      error: "lease provided",
    });
  });
});

describe("range", () => {
  async function seeded(): Promise<Driver> {
    const d = await Driver.memory();
    for (const k of ["/a/1", "/a/2", "/a/3", "/b/1", "/ab"]) await d.put(k, `v${k}`);
    return d;
  }

  it("by prefix (rangeEnd = prefix end)", async () => {
    const d = await seeded();
    const r = await d.store.range({ key: b("/a/"), rangeEnd: prefixRangeEnd(b("/a/")) });
    expect(r.kind === "range" && r.kvs.map((kv) => kv.key.toString())).toEqual([
      "/a/1",
      "/a/2",
      "/a/3",
    ]);
  });

  it('rangeEnd "\\0" selects every key at or above key', async () => {
    const d = await seeded();
    const r = await d.store.range({ key: b("/ab"), rangeEnd: Buffer.from([0]) });
    expect(r.kind === "range" && r.kvs.map((kv) => kv.key.toString())).toEqual(["/ab", "/b/1"]);
  });

  it("limit returns the first keys with more and the full count", async () => {
    const d = await seeded();
    const r = await d.store.range({ key: b("/"), rangeEnd: prefixRangeEnd(b("/")), limit: 2 });
    expect(r).toMatchObject({ kind: "range", more: true, count: 5 });
    expect(r.kind === "range" && r.kvs.map((kv) => kv.key.toString())).toEqual(["/a/1", "/a/2"]);
    const all = await d.store.range({ key: b("/"), rangeEnd: prefixRangeEnd(b("/")), limit: 5 });
    expect(all).toMatchObject({ more: false, count: 5 });
  });

  it("maxRangeResults caps an unlimited range with more: true", async () => {
    const d = await Driver.memory({ limits: { maxRangeResults: 3 } });
    for (const k of ["a", "b", "c", "d"]) await d.put(k, "v");
    expect(await d.store.range({ key: b("a"), rangeEnd: b("z") })).toMatchObject({
      more: true,
      count: 4,
    });
  });

  it("countOnly returns no kvs; keysOnly returns empty values", async () => {
    const d = await seeded();
    const c = await d.store.range({
      key: b("/a/"),
      rangeEnd: prefixRangeEnd(b("/a/")),
      countOnly: true,
    });
    expect(c).toMatchObject({ kvs: [], count: 3, more: false });
    const k = await d.store.range({ key: b("/a/1"), keysOnly: true });
    expect(k.kind === "range" && k.kvs[0]!.value.length).toBe(0);
    expect(k.kind === "range" && k.kvs[0]!.version).toBe(1);
  });

  it("deleteRange by prefix returns the deleted key/values in one revision", async () => {
    const d = await seeded();
    const r = await d.run({
      op: "deleteRange",
      key: b("/a/"),
      rangeEnd: prefixRangeEnd(b("/a/")),
      prevKv: true,
    });
    expect(r).toMatchObject({ kind: "deleteRange", deleted: 3, header: { revision: 7 } });
    expect(r.kind === "deleteRange" && r.prevKvs!.map((kv) => kv.value.toString())).toEqual([
      "v/a/1",
      "v/a/2",
      "v/a/3",
    ]);
    expect(await d.all()).toEqual([
      ["/ab", "v/ab"],
      ["/b/1", "v/b/1"],
    ]);
  });
});

describe("limits and bad input are typed errors", () => {
  it("value too large, key too large, empty key, malformed command", async () => {
    const d = await Driver.memory({ limits: { maxValueBytes: 4, maxKeyBytes: 3 } });
    expect(await d.put("k", "12345")).toMatchObject({
      kind: "error",
      error: "value too large",
      maxValueBytes: 4,
    });
    expect(await d.put("long", "1")).toMatchObject({ error: "key too large" });
    expect(await d.put("", "1")).toMatchObject({ error: "empty key" });
    // biome-ignore lint/suspicious/noExplicitAny: a malformed command from the wire
    expect(await d.run({ op: "put", key: "k", value: 1 } as any)).toMatchObject({
      error: "invalid request",
    });
    // biome-ignore lint/suspicious/noExplicitAny: a malformed command from the wire
    expect(await d.run({ op: "frobnicate" } as any)).toMatchObject({ error: "invalid request" });
    expect(d.store.currentRevision).toBe(1);
  });

  it("too many ops and duplicate keys in a txn branch", async () => {
    const d = await Driver.memory({ limits: { maxTxnOps: 2 } });
    const put = (k: string) => ({ op: "put" as const, key: b(k), value: b("v") });
    expect(
      await d.run({ op: "txn", compare: [], success: [put("a"), put("b"), put("c")], failure: [] }),
    ).toMatchObject({
      error: "too many ops",
      maxTxnOps: 2,
    });
    expect(
      await d.run({ op: "txn", compare: [], success: [put("a"), put("a")], failure: [] }),
    ).toMatchObject({
      error: "duplicate key",
    });
    expect(
      await d.run({
        op: "txn",
        compare: [],
        success: [put("b"), { op: "deleteRange", key: b("a"), rangeEnd: b("c") }],
        failure: [],
      }),
    ).toMatchObject({ error: "duplicate key" });
  });

  it("put with an unknown lease", async () => {
    const d = await Driver.memory();
    expect(await d.put("k", "v", { lease: 99 })).toMatchObject({
      error: "lease not found",
      leaseId: 99,
    });
  });
});
