/**
 * The watch cache's pieces: the index against a plain model (fast-check), the revision barrier's
 * rule that a reader never uses a round that started before it asked, and the cache's
 * consistent read (waits for events or progress; gives up to the store after maxWaitMs).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFieldSelector } from "../../../actors/api/field-selector.ts";
import { CacheIndex, toJson } from "../../../actors/apiserver/cache-index.ts";
import { RevisionBarrier } from "../../../actors/apiserver/revision-barrier.ts";
import { triggerOf, WatchCache } from "../../../actors/apiserver/watch-cache.ts";
import type { ObjectChange, ObjectWatchResponse } from "../../../actors/apiserver/watch-events.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { StoreClient } from "../../../raft/client/store-client.ts";
import type { WatchResponse } from "../../../raft/mvcc/watch-hub.ts";

const value = (name: string, n: number) =>
  Buffer.from(JSON.stringify({ kind: "ConfigMap", metadata: { name }, data: { n: String(n) } }));

describe("CacheIndex", () => {
  const keyArb = fc
    .tuple(fc.constantFrom("a", "b", "ab"), fc.constantFrom("x", "y", "z", "xy"))
    .map(([ns, name]) => `/registry/configmaps/${ns}/${name}`);
  const opArb = fc.oneof(
    fc.record({ op: fc.constant("put" as const), key: keyArb, n: fc.nat(100) }),
    fc.record({ op: fc.constant("delete" as const), key: keyArb }),
  );

  it("lists what a sorted map would, page by page, with the store's nextKey and remaining", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 60 }),
        fc.constantFrom(
          "/registry/configmaps/",
          "/registry/configmaps/a/",
          "/registry/configmaps/ab/",
        ),
        fc.nat(5),
        (ops, prefix, limit) => {
          const index = new CacheIndex();
          const model = new Map<string, number>();
          ops.forEach((o, i) => {
            if (o.op === "put") {
              index.put(o.key, value(o.key, o.n), i + 1);
              model.set(o.key, i + 1);
            } else {
              index.delete(o.key);
              model.delete(o.key);
            }
          });
          const expected = [...model.keys()].filter((k) => k.startsWith(prefix)).sort();
          const page = index.page(prefix, limit);
          const take = limit > 0 ? Math.min(limit, expected.length) : expected.length;
          expect(page.items.map((o) => (o.metadata as { name: string }).name)).toEqual(
            expected.slice(0, take),
          );
          expect(
            page.items.map((o) => (o.metadata as { resourceVersion: string }).resourceVersion),
          ).toEqual(expected.slice(0, take).map((k) => String(model.get(k))));
          expect(page.remaining).toBe(expected.length - take);
          expect(page.nextKey).toBe(take < expected.length ? `${expected[take - 1]}\u0000` : null);
          expect(index.size).toBe(model.size);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("toJson: a list of cached objects reads back exactly as JSON.stringify would", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ name: fc.string(), n: fc.integer() }), { maxLength: 8 }),
        fc.boolean(),
        (objs, withMeta) => {
          const index = new CacheIndex();
          objs.forEach((o, i) => {
            index.put(
              `/registry/configmaps/a/${String(i).padStart(3, "0")}`,
              value(o.name, o.n),
              i + 1,
            );
          });
          const page = index.page("/registry/configmaps/a/", 0);
          const body = withMeta
            ? { kind: "ConfigMapList", metadata: { resourceVersion: "9" }, items: page.items }
            : { items: page.items };
          expect(JSON.parse(toJson(body))).toEqual(JSON.parse(JSON.stringify(body)));
          const one = page.items[0];
          if (one) expect(toJson(one)).toBe(JSON.stringify(one));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("hands out frozen objects: a reader cannot change what the next reader sees", () => {
    const index = new CacheIndex();
    index.put("/registry/configmaps/a/x", value("x", 1), 7);
    const object = index.get("/registry/configmaps/a/x")?.object;
    expect(Object.isFrozen(object)).toBe(true);
    expect(Object.isFrozen(object?.metadata)).toBe(true);
  });
});

describe("RevisionBarrier", () => {
  it("shares a round among readers that asked before it started, never with later ones", async () => {
    const rounds: { resolve: (r: number) => void }[] = [];
    const barrier = new RevisionBarrier(
      () => new Promise<number>((resolve) => rounds.push({ resolve })),
    );
    const first = barrier.revision(); // starts round 1
    const second = barrier.revision(); // asked during round 1: must wait for round 2
    const third = barrier.revision(); // shares round 2 with `second`
    expect(rounds).toHaveLength(1);
    rounds[0]?.resolve(10);
    expect(await first).toBe(10);
    await Promise.resolve();
    expect(rounds).toHaveLength(2);
    rounds[1]?.resolve(12);
    expect(await second).toBe(12);
    expect(await third).toBe(12);
  });

  it("a failed round fails its readers and the next round still runs", async () => {
    let n = 0;
    const barrier = new RevisionBarrier(() =>
      ++n === 1 ? Promise.reject(new Error("no leader")) : Promise.resolve(5),
    );
    const a = barrier.revision();
    const b = barrier.revision();
    await expect(a).rejects.toThrow("no leader");
    expect(await b).toBe(5);
  });
});

/** A store client with just what the cache uses: ranges and one watch. */
class FakeStore {
  revision = 3;
  onWatch: ((r: WatchResponse) => void) | null = null;
  progressRequests = 0;
  kvs = [{ key: Buffer.from("/registry/configmaps/a/x"), value: value("x", 1), modRevision: 3 }];

  client(): StoreClient {
    const self = this;
    return {
      async range() {
        return { header: { revision: self.revision }, kvs: self.kvs, more: false, count: 1 };
      },
      async watch(_request: unknown, onResponse: (r: WatchResponse) => void) {
        self.onWatch = onResponse;
        return {
          cancel() {},
          requestProgress() {
            self.progressRequests++;
          },
        };
      },
    } as unknown as StoreClient; // only range and watch are used by the cache
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("WatchCache", () => {
  async function loaded(store: FakeStore, clock: ManualClock) {
    const cache = new WatchCache(() => store.client(), clock, { maxWaitMs: 100 });
    const { index, revision } = await cache.load();
    cache.installed(index, revision);
    await store
      .client()
      .watch({} as never, (r) => cache.apply(r))
      .then((h) => {
        cache.handle = h;
        cache.watched();
      });
    return cache;
  }

  it("a consistent read waits for the event at the store's revision", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const cache = await loaded(store, clock);
    expect(cache.get("/registry/configmaps/a/x")?.modRevision).toBe(3);
    store.revision = 4; // a write acknowledged elsewhere, its event not here yet
    let done: boolean | undefined;
    void cache.sync().then((ok) => {
      done = ok;
    });
    await flush();
    expect(done).toBeUndefined();
    expect(store.progressRequests).toBeGreaterThan(0);
    store.onWatch?.({
      kind: "events",
      watchId: 1,
      header: { revision: 4 },
      events: [
        {
          type: "PUT",
          kv: {
            key: Buffer.from("/registry/configmaps/a/x"),
            value: value("x", 2),
            createRevision: 3,
            modRevision: 4,
            version: 2,
            lease: 0,
          },
        },
      ],
    });
    await flush();
    expect(done).toBe(true);
    expect(cache.get("/registry/configmaps/a/x")?.object.data).toEqual({ n: "2" });
  });

  it("a write outside the prefix is caught up by a progress notification", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const cache = await loaded(store, clock);
    store.revision = 9;
    const read = cache.sync();
    await flush();
    store.onWatch?.({ kind: "progress", watchId: 1, header: { revision: 9 } });
    expect(await read).toBe(true);
    expect(cache.currentRevision).toBe(9);
  });

  it("gives the read back to the store after maxWaitMs, and when the watch ends", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const cache = await loaded(store, clock);
    store.revision = 20;
    const slow = cache.sync();
    await flush();
    clock.advance(100);
    expect(await slow).toBe(false);
    const pending = cache.waitFor(21);
    cache.unwatched();
    expect(await pending).toBe(false);
    expect(cache.ready).toBe(false);
    expect(await cache.sync()).toBe(false);
  });
});

describe("WatchCache: watches served from the cache", () => {
  const put = (name: string, n: number, revision: number, createRevision = revision) => ({
    type: "PUT" as const,
    kv: {
      key: Buffer.from(`/registry/configmaps/a/${name}`),
      value: value(name, n),
      createRevision,
      modRevision: revision,
      version: 1,
      lease: 0,
    },
  });
  const del = (name: string, revision: number) => ({
    type: "DELETE" as const,
    kv: {
      key: Buffer.from(`/registry/configmaps/a/${name}`),
      value: Buffer.alloc(0),
      createRevision: 0,
      modRevision: revision,
      version: 0,
      lease: 0,
    },
  });
  const events = (revision: number, ...evs: ReturnType<typeof put | typeof del>[]) =>
    ({ kind: "events", watchId: 1, header: { revision }, events: evs }) as WatchResponse;

  async function live(limits: { maxHistoryChanges?: number } = {}) {
    const clock = new ManualClock();
    const store = new FakeStore();
    const cache = new WatchCache(() => store.client(), clock, limits);
    const { index, revision } = await cache.load();
    cache.installed(index, revision);
    cache.watched();
    return cache;
  }

  it("replays history from the start revision, then goes live, in order and by prefix", async () => {
    const cache = await live();
    cache.apply(events(4, put("x", 2, 4, 3)));
    cache.apply(events(5, put("y", 1, 5)));
    const seen: string[] = [];
    const handle = cache.subscribe("/registry/configmaps/a/", 4, (r) => {
      if (r.kind === "changes")
        for (const c of r.changes)
          seen.push(
            `${c.revision}:${c.key.split("/").pop()}:${c.object === undefined ? "del" : c.previous ? "mod" : "add"}`,
          );
    });
    expect(handle).not.toBeNull();
    cache.apply(events(6, del("y", 6)));
    cache.apply({
      kind: "events",
      watchId: 1,
      header: { revision: 7 },
      events: [
        { ...put("z", 1, 7), kv: { ...put("z", 1, 7).kv, key: Buffer.from("/registry/pods/a/z") } },
      ],
    });
    expect(seen).toEqual(["4:x:mod", "5:y:add", "6:y:del"]);
  });

  it("a DELETED change carries the last state at the delete's revision", async () => {
    const cache = await live();
    const changes: ObjectChange[] = [];
    cache.subscribe("/registry/configmaps/", 0, (r) => {
      if (r.kind === "changes") changes.push(...r.changes);
    });
    cache.apply(events(8, del("x", 8)));
    const last = changes[0]?.previous as { metadata: { resourceVersion: string }; data: object };
    expect(last.metadata.resourceVersion).toBe("8");
    expect(last.data).toEqual({ n: "1" });
  });

  it("a start older than the kept history is refused (the caller watches the store)", async () => {
    const cache = await live({ maxHistoryChanges: 2 });
    for (let r = 4; r <= 8; r++) cache.apply(events(r, put(`k${r}`, r, r)));
    expect(cache.subscribe("/registry/", 4, () => {})).toBeNull();
    expect(cache.subscribe("/registry/", 8, () => {})).not.toBeNull();
  });

  it("progress answers at the cache's revision; a lost store watch cancels every watcher", async () => {
    const cache = await live();
    const got: ObjectWatchResponse[] = [];
    const handle = cache.subscribe("/registry/", 0, (r) => got.push(r));
    cache.apply(events(9, put("x", 3, 9, 3)));
    handle?.requestProgress();
    await flush();
    expect(got.at(-1)).toEqual({ kind: "progress", revision: 9 });
    cache.unwatched();
    expect(got.at(-1)).toEqual({ kind: "canceled", reason: "restored" });
    expect(cache.subscribe("/registry/", 0, () => {})).toBeNull();
  });
});

describe("WatchCache: the spec.nodeName trigger", () => {
  const pod = (name: string, node: string | null, revision: number, createRevision: number) => ({
    type: "PUT" as const,
    kv: {
      key: Buffer.from(`/registry/pods/a/${name}`),
      value: Buffer.from(
        JSON.stringify({ kind: "Pod", metadata: { name }, spec: node ? { nodeName: node } : {} }),
      ),
      createRevision,
      modRevision: revision,
      version: 1,
      lease: 0,
    },
  });

  /** A live cache over an empty store, and a way to feed it one store response of pods. */
  async function liveCache() {
    const store = new FakeStore();
    const cache = new WatchCache(() => store.client(), new ManualClock());
    const { index, revision } = await cache.load();
    cache.installed(index, revision);
    cache.watched();
    const at = (r: number, ...evs: ReturnType<typeof pod>[]) =>
      cache.apply({ kind: "events", watchId: 1, header: { revision: r }, events: evs });
    return { cache, at };
  }

  it("offers a kubelet's watch only the changes to pods on (or moving off) its node", async () => {
    const { cache, at } = await liveCache();
    const seen: string[] = [];
    const trigger = triggerOf(parseFieldSelector("spec.nodeName=n1"));
    expect(trigger).toEqual({ field: "spec.nodeName", value: "n1" });
    cache.subscribe(
      "/registry/pods/",
      0,
      (r) => {
        if (r.kind === "changes") for (const c of r.changes) seen.push(`${c.revision}`);
      },
      trigger,
    );
    at(4, pod("p", null, 4, 4)); // unbound: not n1's
    at(5, pod("p", "n1", 5, 4)); // bound to n1
    at(6, pod("q", "n2", 6, 6)); // another node's
    at(7, pod("p", "n2", 7, 4)); // moved off n1: still offered (the selector makes it DELETED)
    expect(seen).toEqual(["5", "7"]);
    expect(triggerOf(parseFieldSelector("spec.nodeName!=n1"))).toBeUndefined();
  });

  it("indexes watchers by node: each gets its node's changes of a batch, in order; cancel stops it", async () => {
    const { cache, at } = await liveCache();
    const seen: Record<string, string[]> = { n1: [], n2: [], all: [] };
    const watch = (who: string, selector: string | null) =>
      cache.subscribe(
        "/registry/pods/",
        0,
        (r) => {
          if (r.kind === "changes")
            for (const c of r.changes) seen[who]?.push(`${c.key.split("/").pop()}@${c.revision}`);
        },
        selector === null ? undefined : triggerOf(parseFieldSelector(selector)),
      );
    const n1 = watch("n1", "spec.nodeName=n1");
    watch("n2", "spec.nodeName=n2");
    watch("all", null);
    // one txn: a pod to each node, and one moving from n1 to n2
    at(4, pod("a", "n1", 4, 4), pod("b", "n2", 4, 4));
    at(5, pod("a", "n2", 5, 4), pod("c", "n1", 5, 5));
    n1?.cancel();
    at(6, pod("d", "n1", 6, 6));
    expect(seen.n1).toEqual(["a@4", "a@5", "c@5"]);
    expect(seen.n2).toEqual(["b@4", "a@5"]);
    expect(seen.all).toEqual(["a@4", "b@4", "a@5", "c@5", "d@6"]);
  });
});
