/** Leases (etcd's lessor): grant, attach, revoke and expiry by replicated command, keep-alive. */
import { describe, expect, it } from "vitest";
import { prefixRangeEnd } from "../../../raft/mvcc/key-range.ts";
import { b, Driver } from "./harness.ts";

describe("leases", () => {
  it("grant, attach keys, revoke deletes them all in one revision", async () => {
    const d = await Driver.memory();
    expect(await d.run({ op: "leaseGrant", id: 9, ttlMs: 5_000, nowMs: 1_000 })).toMatchObject({
      kind: "leaseGrant",
      id: 9,
      ttlMs: 5_000,
      header: { revision: 1 },
    });
    await d.put("/l/a", "1", { lease: 9 }); // 2
    await d.put("/l/b", "1", { lease: 9 }); // 3
    await d.put("/l/c", "1"); // 4: no lease
    expect(d.store.leaseTimeToLive(9, 2_000)).toEqual({
      id: 9,
      ttlMs: 5_000,
      remainingTtlMs: 4_000,
      keys: [b("/l/a"), b("/l/b")],
    });
    const w = d.store.watch({ key: b("/l/"), rangeEnd: prefixRangeEnd(b("/l/")) });
    expect(await d.run({ op: "leaseRevoke", id: 9 })).toMatchObject({
      kind: "leaseRevoke",
      header: { revision: 5 },
    });
    const r = await w.next();
    expect(r?.kind === "events" && r.header.revision).toBe(5);
    expect(r?.kind === "events" && r.events.map((e) => `${e.type} ${e.kv.key}`)).toEqual([
      "DELETE /l/a",
      "DELETE /l/b",
    ]);
    expect(await d.all()).toEqual([["/l/c", "1"]]);
    expect(d.store.leaseTimeToLive(9, 2_000)).toBeUndefined();
    expect(await d.run({ op: "leaseRevoke", id: 9 })).toMatchObject({
      error: "lease not found",
      leaseId: 9,
    });
    w.cancel();
  });

  it("a key put again without the lease is detached from it", async () => {
    const d = await Driver.memory();
    await d.run({ op: "leaseGrant", id: 1, ttlMs: 5_000, nowMs: 0 });
    await d.put("k", "1", { lease: 1 });
    await d.put("k", "2");
    await d.run({ op: "leaseRevoke", id: 1 });
    expect(await d.get("k")).toMatchObject({ value: "2", lease: 0 });
  });

  it("expiry: dueLeases is pure; leaseExpire revokes only leases still due; keep-alive extends", async () => {
    const d = await Driver.memory();
    await d.run({ op: "leaseGrant", id: 1, ttlMs: 1_000, nowMs: 0 });
    await d.run({ op: "leaseGrant", id: 2, ttlMs: 2_000, nowMs: 0 });
    await d.put("a", "1", { lease: 1 });
    await d.put("b", "1", { lease: 2 });
    expect(d.store.dueLeases(999)).toEqual([]);
    expect(d.store.dueLeases(1_500)).toEqual([1]);
    expect(d.store.dueLeases(1_500)).toEqual([1]); // asking changes nothing
    // The leader proposes the expiry of both at 2_500, but a keep-alive for 2 lands first.
    expect(await d.run({ op: "leaseKeepAlive", id: 2, nowMs: 1_900 })).toMatchObject({
      kind: "leaseKeepAlive",
      ttlMs: 2_000,
    });
    const r = await d.run({ op: "leaseExpire", ids: [1, 2], nowMs: 2_500 });
    expect(r).toMatchObject({ kind: "leaseExpire", expired: [1] });
    expect(await d.all()).toEqual([["b", "1"]]);
    expect(d.store.dueLeases(3_900)).toEqual([2]);
    expect(d.store.leaseIds()).toEqual([2]);
  });

  it("a checkpoint records the remaining TTL against the proposer's clock", async () => {
    const d = await Driver.memory();
    await d.run({ op: "leaseGrant", id: 1, ttlMs: 10_000, nowMs: 0 });
    await d.run({
      op: "leaseCheckpoint",
      checkpoints: [
        { id: 1, remainingTtlMs: 3_000 },
        { id: 77, remainingTtlMs: 1 },
      ],
      nowMs: 50_000,
    });
    expect(d.store.dueLeases(52_999)).toEqual([]);
    expect(d.store.dueLeases(53_000)).toEqual([1]);
  });

  it("id 0 lets the state machine choose (the entry's log index); a taken id is refused; bad TTLs too", async () => {
    const d = await Driver.memory();
    await d.put("x", "1"); // entry 1
    const r = await d.run({ op: "leaseGrant", id: 0, ttlMs: 1_000, nowMs: 0 }); // entry 2
    expect(r).toMatchObject({ kind: "leaseGrant", id: 2 });
    expect(await d.run({ op: "leaseGrant", id: 2, ttlMs: 1_000, nowMs: 0 })).toMatchObject({
      error: "lease exists",
      leaseId: 2,
    });
    expect(await d.run({ op: "leaseGrant", id: 3, ttlMs: 0, nowMs: 0 })).toMatchObject({
      error: "invalid ttl",
    });
  });

  it("leases and their keys survive a reopen", async () => {
    const d = await Driver.memory();
    await d.run({ op: "leaseGrant", id: 4, ttlMs: 1_000, nowMs: 0 });
    await d.put("a", "1", { lease: 4 });
    await d.reopen();
    expect(d.store.leaseTimeToLive(4, 0)).toMatchObject({ remainingTtlMs: 1_000, keys: [b("a")] });
    await d.run({ op: "leaseExpire", ids: d.store.dueLeases(1_000), nowMs: 1_000 });
    expect(await d.all()).toEqual([]);
  });
});
