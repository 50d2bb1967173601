/**
 * The informer statechart against an in-memory list/watch source under a ManualClock: what a
 * controller can rely on (client-go's reflector + DeltaFIFO contract).
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  INFORMER_BACKOFF_INITIAL_MS,
  INFORMER_LIST_PAGE_SIZE,
  Informer,
  informerMachine,
} from "../../../actors/client/informer.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeListWatcher } from "./fake-list-watcher.ts";

const nameOf = (o: JsonObject) => String((o.metadata as { name?: string }).name);

/** Lets promise callbacks (list answers, watch starts) run; no time passes. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function startInformer(source: FakeListWatcher, clock: ManualClock, resyncPeriodMs = 0) {
  const log: string[] = [];
  const informer = Informer.start({
    source,
    resource: "configmaps",
    namespace: "default",
    clock,
    resyncPeriodMs,
    handlers: {
      add: (o) => log.push(`add ${nameOf(o)}`),
      update: (a, b) =>
        log.push(`update ${nameOf(b)} ${JSON.stringify(a.data)}->${JSON.stringify(b.data)}`),
      delete: (o) => log.push(`delete ${nameOf(o)}`),
    },
  });
  return { informer, log };
}

describe("informer", () => {
  it("is a statechart: listing → watching → relisting, with backoff", () => {
    expect(Object.keys(informerMachine.config.states ?? {})).toEqual([
      "listing",
      "watching",
      "relisting",
      "backoff",
      "stopped",
    ]);
  });

  it("initial sync: lists into the cache, adds each object, then watches from the list's version", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    source.put("a", { v: "1" });
    source.put("b", { v: "1" });
    const { informer, log } = startInformer(source, clock);
    expect(informer.hasSynced()).toBe(false);
    await settle();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.keys()).toEqual(["default/a", "default/b"]);
    expect(log).toEqual(["add a", "add b"]);
    expect(informer.state()).toEqual({ watching: "streaming" });
    expect(source.watchRequests[0]).toMatchObject({
      resource: "configmaps",
      namespace: "default",
      resourceVersion: String(source.revision),
    });
    informer.stop();
  });

  it("add, update and delete events reach the cache and the handlers", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    const { informer, log } = startInformer(source, clock);
    await settle();
    source.put("a", { v: "1" });
    source.put("a", { v: "2" });
    source.put("b", { v: "1" });
    source.remove("a");
    expect(log).toEqual(["add a", 'update a {"v":"1"}->{"v":"2"}', "add b", "delete a"]);
    expect(informer.keys()).toEqual(["default/b"]);
    informer.stop();
  });

  it("410 Gone relists: deletes for vanished objects, updates for changed ones, adds for new", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    source.put("keep", { v: "1" });
    source.put("change", { v: "1" });
    source.put("vanish", { v: "1" });
    const { informer, log } = startInformer(source, clock);
    await settle();
    log.length = 0;
    source.quietly(() => {
      source.put("change", { v: "2" });
      source.remove("vanish");
      source.put("fresh", { v: "1" });
    });
    source.compact();
    expect(informer.state()).toBe("relisting");
    await settle();
    expect(log.sort()).toEqual(
      ["add fresh", 'update change {"v":"1"}->{"v":"2"}', "delete vanish"].sort(),
    );
    expect(informer.keys()).toEqual(["default/change", "default/fresh", "default/keep"]);
    expect(source.lists).toHaveLength(2);
    expect(informer.state()).toEqual({ watching: "streaming" });
    informer.stop();
  });

  it("lists in pages of 500; synced only after the last; a relist deletes only at its end", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    for (let i = 0; i < 1_234; i++) source.put(`cm-${String(i).padStart(4, "0")}`, { v: "1" });
    const { informer, log } = startInformer(source, clock);
    const pages: number[] = [];
    for (let turns = 0; turns < 200 && !informer.hasSynced(); turns++) {
      pages.push(log.length);
      await Promise.resolve();
    }
    expect(informer.hasSynced()).toBe(true);
    expect(source.lists.map((r) => [r.limit, r.continue])).toEqual([
      [INFORMER_LIST_PAGE_SIZE, undefined],
      [INFORMER_LIST_PAGE_SIZE, "500"],
      [INFORMER_LIST_PAGE_SIZE, "1000"],
    ]);
    // the handlers saw the first pages before the list was done
    expect(pages).toContain(500);
    expect(informer.keys()).toHaveLength(1_234);
    log.length = 0;
    source.quietly(() => source.remove("cm-0000"));
    source.compact();
    await settle();
    await settle();
    expect(log).toEqual(["delete cm-0000"]);
    expect(informer.keys()).toHaveLength(1_233);
    informer.stop();
  });

  it("resync re-delivers every cached object every period, on the injected clock", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    source.put("a", { v: "1" });
    source.put("b", { v: "1" });
    const { informer, log } = startInformer(source, clock, 1_000);
    await settle();
    log.length = 0;
    clock.advance(999);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(['update a {"v":"1"}->{"v":"1"}', 'update b {"v":"1"}->{"v":"1"}']);
    clock.advance(1_000);
    expect(log).toHaveLength(4);
    informer.stop();
  });

  it("a watch error backs off, then resumes from the last seen version without duplicates", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    const { informer, log } = startInformer(source, clock);
    await settle();
    source.put("a", { v: "1" });
    const seen = String(source.revision);
    source.breakWatches();
    expect(informer.state()).toBe("backoff");
    // written while no watch is open: the resumed watch replays it from history
    source.put("b", { v: "1" });
    clock.advance(INFORMER_BACKOFF_INITIAL_MS - 1);
    expect(informer.state()).toBe("backoff");
    clock.advance(1);
    await settle();
    expect(informer.state()).toEqual({ watching: "streaming" });
    expect(source.watchRequests.at(-1)?.resourceVersion).toBe(seen);
    expect(source.lists).toHaveLength(1);
    source.put("c", { v: "1" });
    expect(log).toEqual(["add a", "add b", "add c"]);
    informer.stop();
    await settle();
    expect(source.openWatches()).toBe(0);
  });

  it("a failing list backs off, doubling, until it succeeds", async () => {
    const clock = new ManualClock();
    const source = new FakeListWatcher();
    source.put("a", { v: "1" });
    source.failNextLists = 2;
    const { informer } = startInformer(source, clock);
    await settle();
    expect(informer.state()).toBe("backoff");
    clock.advance(INFORMER_BACKOFF_INITIAL_MS);
    await settle();
    expect(informer.state()).toBe("backoff");
    expect(source.lists).toHaveLength(2);
    clock.advance(INFORMER_BACKOFF_INITIAL_MS); // the second pause is twice as long
    await settle();
    expect(source.lists).toHaveLength(2);
    clock.advance(INFORMER_BACKOFF_INITIAL_MS);
    await settle();
    expect(source.lists).toHaveLength(3);
    expect(informer.hasSynced()).toBe(true);
    expect(informer.keys()).toEqual(["default/a"]);
    informer.stop();
  });
});
