/** The watch hub (etcd's watchable_store): replay from history, then live, without gap or repeat. */
import { describe, expect, it } from "vitest";
import { prefixRangeEnd } from "../../../raft/mvcc/key-range.ts";
import type { Watcher, WatchResponse } from "../../../raft/mvcc/watch-hub.ts";
import { b, Driver } from "./harness.ts";

/** Takes responses until `n` event responses arrived; returns [revision, type, key, value, prev][]. */
async function events(w: Watcher, n: number): Promise<string[]> {
  const out: string[] = [];
  let got = 0;
  while (got < n) {
    const r = await w.next();
    if (r === undefined || r.kind === "canceled")
      throw new Error(`watch ended: ${JSON.stringify(r)}`);
    if (r.kind !== "events") continue;
    got++;
    for (const e of r.events) {
      const prev = e.prevKv ? ` prev=${e.prevKv.value.toString()}` : "";
      out.push(
        `${r.header.revision} ${e.type} ${e.kv.key.toString()}=${e.kv.value.toString()}${prev}`,
      );
    }
  }
  return out;
}

describe("watch", () => {
  it("future changes only when no start revision is given", async () => {
    const d = await Driver.memory();
    await d.put("a", "old");
    const w = d.store.watch({ key: b("a") });
    await d.put("a", "new");
    expect(await events(w, 1)).toEqual(["3 PUT a=new"]);
    w.cancel();
    expect(await w.next()).toBeUndefined();
  });

  it("replays history from a start revision, then continues live without gap or duplicate", async () => {
    const d = await Driver.memory({ limits: { watchCatchUpPageRows: 2 } });
    for (let i = 1; i <= 5; i++) await d.put(`/p/${i}`, `v${i}`); // revs 2..6
    const w = d.store.watch({
      key: b("/p/"),
      rangeEnd: prefixRangeEnd(b("/p/")),
      startRevision: 3,
      prevKv: true,
    });
    // Writes while the watcher has not read its history yet.
    await d.put("/p/1", "w1"); // 7
    await d.del("/p/2"); // 8
    await d.put("/other", "x"); // 9 (outside the range)
    const first = await events(w, 6);
    expect(first).toEqual([
      "3 PUT /p/2=v2",
      "4 PUT /p/3=v3",
      "5 PUT /p/4=v4",
      "6 PUT /p/5=v5",
      "7 PUT /p/1=w1 prev=v1",
      "8 DELETE /p/2= prev=v2",
    ]);
    await d.put("/p/3", "w3"); // 10
    expect(await events(w, 1)).toEqual(["10 PUT /p/3=w3 prev=v3"]);
    w.cancel();
  });

  it("groups one revision's events into one response", async () => {
    const d = await Driver.memory();
    const w = d.store.watch({ key: b("a"), rangeEnd: b("z") });
    await d.run({
      op: "txn",
      compare: [],
      success: [
        { op: "put", key: b("a"), value: b("1") },
        { op: "put", key: b("b"), value: b("2") },
      ],
      failure: [],
    });
    const r = await w.next();
    expect(r?.kind === "events" && r.events.length).toBe(2);
    w.cancel();
  });

  it("a replayed revision larger than a read page still arrives whole, in one response", async () => {
    const d = await Driver.memory({ limits: { watchCatchUpPageRows: 2 } });
    await d.put("a", "0"); // 2
    const many = ["a", "b", "c", "d", "e"].map((k) => ({
      op: "put" as const,
      key: b(k),
      value: b("1"),
    }));
    await d.run({ op: "txn", compare: [], success: many, failure: [] }); // 3, five rows
    await d.put("b", "2"); // 4
    const w = d.store.watch({ key: b("a"), rangeEnd: b("z"), startRevision: 2 });
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await w.next();
      if (r?.kind === "events") sizes.push(r.events.length);
    }
    expect(sizes).toEqual([1, 5, 1]);
    w.cancel();
  });

  it("filters drop puts or deletes", async () => {
    const d = await Driver.memory();
    const w = d.store.watch({ key: b("k"), filters: ["noPut"] });
    await d.put("k", "1");
    await d.del("k");
    expect(await events(w, 1)).toEqual(["3 DELETE k="]);
    w.cancel();
  });

  it("a start revision at or below the compacted revision is refused with the compact revision", async () => {
    const d = await Driver.memory();
    for (let i = 0; i < 4; i++) await d.put("k", `${i}`); // 2..5
    await d.run({ op: "compact", revision: 4 });
    const w = d.store.watch({ key: b("k"), startRevision: 4 });
    expect(await w.next()).toEqual({
      kind: "canceled",
      watchId: w.id,
      reason: "compacted",
      compactRevision: 4,
    });
    expect(await w.next()).toBeUndefined();
    const ok = d.store.watch({ key: b("k"), startRevision: 5 });
    expect(await events(ok, 1)).toEqual(["5 PUT k=3"]);
    ok.cancel();
  });

  it("a compaction that overtakes a replaying watcher cancels it as compacted", async () => {
    const d = await Driver.memory({ limits: { watchCatchUpPageRows: 1 } });
    for (let i = 0; i < 5; i++) await d.put("k", `${i}`); // 2..6
    const w = d.store.watch({ key: b("k"), startRevision: 2 });
    expect(await events(w, 1)).toEqual(["2 PUT k=0"]);
    await d.run({ op: "compact", revision: 5 });
    const rest: WatchResponse[] = [];
    for await (const r of w) rest.push(r);
    expect(rest.at(-1)).toMatchObject({
      kind: "canceled",
      reason: "compacted",
      compactRevision: 5,
    });
  });

  it("a slow consumer is cancelled once its buffer is full, not buffered forever", async () => {
    const d = await Driver.memory({ limits: { maxWatcherBufferedEvents: 3 } });
    const w = d.store.watch({ key: b("k") });
    for (let i = 0; i < 5; i++) await d.put("k", `${i}`);
    expect(d.store.watcherCount).toBe(0);
    expect(await w.next()).toEqual({ kind: "canceled", watchId: w.id, reason: "slow consumer" });
  });

  it("a slow consumer still replaying is cancelled when live events pile up", async () => {
    const d = await Driver.memory({ limits: { maxWatcherBufferedEvents: 2 } });
    await d.put("k", "0");
    const w = d.store.watch({ key: b("k"), startRevision: 1 });
    for (let i = 1; i <= 3; i++) await d.put("k", `${i}`);
    expect(await w.next()).toMatchObject({ kind: "canceled", reason: "slow consumer" });
  });

  it("progress notifications carry the current revision, after the replay when replaying", async () => {
    const d = await Driver.memory();
    await d.put("a", "1"); // 2
    await d.put("b", "1"); // 3
    const live = d.store.watch({ key: b("a") });
    live.requestProgress();
    expect(await live.next()).toEqual({
      kind: "progress",
      watchId: live.id,
      header: { revision: 3 },
    });
    const replaying = d.store.watch({ key: b("a"), startRevision: 2 });
    replaying.requestProgress();
    expect((await replaying.next())?.kind).toBe("events");
    expect(await replaying.next()).toMatchObject({ kind: "progress", header: { revision: 3 } });
    d.store.progressAll();
    expect(await live.next()).toMatchObject({ kind: "progress", header: { revision: 3 } });
    live.cancel();
    replaying.cancel();
  });

  it("a next() waiting for events resolves when they are committed", async () => {
    const d = await Driver.memory();
    const w = d.store.watch({ key: b("k") });
    const pending = w.next();
    await d.put("k", "v");
    expect(await pending).toMatchObject({ kind: "events", header: { revision: 2 } });
    w.cancel();
  });

  it("closing the store cancels watchers", async () => {
    const d = await Driver.memory();
    const w = d.store.watch({ key: b("k") });
    await d.store.close();
    expect(await w.next()).toMatchObject({ kind: "canceled", reason: "closed" });
  });
});
