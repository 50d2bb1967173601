/**
 * The API server's watch cache (kube-apiserver's cacher, with consistent reads from cache): one
 * list + watch of every object under `/registry/` per API server, decoded once per write, so a
 * GET or LIST is a lookup instead of a store read that ships and decodes every value again.
 *
 *   loading ──loaded──▶ watching ──watch canceled──▶ loading
 *      └──failed──▶ backoff ──▶ loading               any ──cache.stop──▶ stopped
 *
 * Reads stay linearizable: a reader first takes the store's current revision through one shared
 * linearizable round (RevisionBarrier), then waits until the cache has caught up to it (events,
 * or a progress notification when the newest writes were outside the prefix). A cache that
 * cannot catch up within `maxWaitMs`, or is not watching, answers `false` and the reader goes
 * to the store as before — the cache only ever makes reads faster, never staler.
 */
import type { Logger } from "pino";
import { type AnyActorRef, assign, fromCallback, fromPromise, setup } from "xstate";
import type { StoreClient, WatchHandle } from "../../raft/client/store-client.ts";
import { prefixRangeEnd } from "../../raft/mvcc/key-range.ts";
import type { WatchResponse } from "../../raft/mvcc/watch-hub.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import { type CachedObject, CacheIndex, type CachePage } from "./cache-index.ts";
import { RevisionBarrier } from "./revision-barrier.ts";

export interface WatchCacheLimits {
  /** How long a consistent read waits for the cache to reach the store's revision. */
  maxWaitMs: number;
  /** While readers wait, how often the watch is asked for progress. */
  progressIntervalMs: number;
  /** Keys per range while loading (the store caps a range at 10,000). */
  loadPageKeys: number;
  /** The pause before loading again after a failed load. */
  reloadBackoffMs: number;
  /** Readers waiting at once; more go to the store directly. */
  maxWaiters: number;
}

export const DEFAULT_WATCH_CACHE_LIMITS: WatchCacheLimits = {
  maxWaitMs: 1_000,
  progressIntervalMs: 5,
  loadPageKeys: 5_000,
  reloadBackoffMs: 500,
  maxWaiters: 10_000,
};

export const WATCH_CACHE_PREFIX = "/registry/";
const enc = (s: string) => Buffer.from(s, "utf8");

interface Waiter {
  revision: number;
  resolve: (caughtUp: boolean) => void;
  timer: TimerId;
}

/** The data and the waiting; the statechart below decides when it is fed. */
export class WatchCache {
  private index = new CacheIndex();
  private revision = 0;
  private watching = false;
  private readonly waiters = new Set<Waiter>();
  private progressTimer: TimerId | null = null;
  private readonly barrier: RevisionBarrier;
  private readonly limits: WatchCacheLimits;
  private actor: AnyActorRef | null = null;
  /** The live store watch, while `watching` (set by the statechart's watch). */
  handle: WatchHandle | null = null;

  constructor(
    readonly client: () => StoreClient,
    private readonly clock: Clock,
    limits: Partial<WatchCacheLimits> = {},
    readonly logger?: Logger,
  ) {
    this.limits = { ...DEFAULT_WATCH_CACHE_LIMITS, ...limits };
    this.barrier = new RevisionBarrier(async () => {
      // one key, counted: the cheapest linearizable read that carries the store's revision
      const r = await this.client().range({ key: enc(WATCH_CACHE_PREFIX), countOnly: true });
      return r.header.revision;
    });
  }

  /** Starts the cache's statechart in `system` (the inspector shows it as `name`). */
  start(system: ActorSystem, name = "watch-cache"): void {
    this.actor = system.spawn(name, watchCacheMachine, {
      input: { cache: this, limits: this.limits },
    });
  }

  stop(): void {
    this.actor?.send({ type: "cache.stop" });
    this.unwatched();
  }

  /** Whether reads can be served now (the cache is loaded and its watch is live). */
  get ready(): boolean {
    return this.watching;
  }

  get currentRevision(): number {
    return this.revision;
  }

  /** True once the cache holds every write acknowledged before this call. */
  async sync(): Promise<boolean> {
    if (!this.watching) return false;
    const revision = await this.barrier.revision();
    return this.waitFor(revision);
  }

  get(key: string): CachedObject | undefined {
    return this.index.get(key);
  }

  page(prefix: string, limit: number): CachePage & { revision: number } {
    return { ...this.index.page(prefix, limit), revision: this.revision };
  }

  /** Resolves true when the cache has reached `revision`, false after `maxWaitMs`. */
  waitFor(revision: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    if (!this.watching || this.waiters.size >= this.limits.maxWaiters)
      return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        revision,
        resolve,
        timer: this.clock.setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(false);
        }, this.limits.maxWaitMs),
      };
      this.waiters.add(waiter);
      this.askProgress();
    });
  }

  // ---- fed by the statechart -------------------------------------------------------------------

  /** Loads every object at one revision, page by page; returns the revision. */
  async load(): Promise<{ index: CacheIndex; revision: number }> {
    const client = this.client();
    const index = new CacheIndex();
    const prefix = enc(WATCH_CACHE_PREFIX);
    const rangeEnd = prefixRangeEnd(prefix);
    let key: Uint8Array = prefix;
    let revision = 0;
    for (;;) {
      const r = await client.range({ key, rangeEnd, revision, limit: this.limits.loadPageKeys });
      if (revision === 0) revision = r.header.revision;
      for (const kv of r.kvs)
        index.put(Buffer.from(kv.key).toString("utf8"), kv.value, kv.modRevision);
      const last = r.kvs[r.kvs.length - 1];
      if (!r.more || last === undefined) break;
      key = Buffer.concat([Buffer.from(last.key), Buffer.from([0])]);
    }
    return { index, revision };
  }

  installed(index: CacheIndex, revision: number): void {
    this.index = index;
    this.revision = revision;
  }

  watched(): void {
    this.watching = true;
    this.wakeWaiters();
  }

  /** The watch ended: reads go to the store until the cache is loaded again. */
  unwatched(): void {
    this.watching = false;
    for (const waiter of this.waiters) {
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.waiters.clear();
  }

  apply(response: WatchResponse): void {
    if (response.kind === "events") {
      for (const e of response.events) {
        const key = Buffer.from(e.kv.key).toString("utf8");
        if (e.type === "PUT") this.index.put(key, e.kv.value, e.kv.modRevision);
        else this.index.delete(key);
      }
    }
    if (response.kind === "events" || response.kind === "progress") {
      this.revision = Math.max(this.revision, response.header.revision);
      this.wakeWaiters();
    }
  }

  private wakeWaiters(): void {
    for (const waiter of this.waiters) {
      if (waiter.revision > this.revision) continue;
      this.waiters.delete(waiter);
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  /**
   * While readers wait, asks the watch for progress every `progressIntervalMs`: the newest
   * writes may be outside the prefix (no event would ever come), or the watching server may
   * still be applying them.
   */
  private askProgress(): void {
    if (this.progressTimer !== null || this.waiters.size === 0) return;
    this.handle?.requestProgress();
    this.progressTimer = this.clock.setTimeout(() => {
      this.progressTimer = null;
      this.askProgress();
    }, this.limits.progressIntervalMs);
  }
}

export type WatchCacheEvent =
  | { type: "watch.canceled"; reason: string }
  | { type: "watch.failed"; error: string }
  | { type: "cache.stop" };

interface WatchCacheContext {
  cache: WatchCache;
  limits: WatchCacheLimits;
  loads: number;
  lastError: string | null;
}

const loadCache = fromPromise<{ index: CacheIndex; revision: number }, { cache: WatchCache }>(
  ({ input }) => input.cache.load(),
);

const watchStore = fromCallback<WatchCacheEvent, { cache: WatchCache }>(({ input, sendBack }) => {
  const { cache } = input;
  let stopped = false;
  cache
    .client()
    .watch(
      {
        key: enc(WATCH_CACHE_PREFIX),
        rangeEnd: prefixRangeEnd(enc(WATCH_CACHE_PREFIX)),
        startRevision: cache.currentRevision + 1,
      },
      (response) => {
        if (stopped) return;
        if (response.kind === "canceled") {
          sendBack({ type: "watch.canceled", reason: response.reason });
          return;
        }
        cache.apply(response);
      },
    )
    .then(
      (handle) => {
        if (stopped) return handle.cancel();
        cache.handle = handle;
        cache.watched();
      },
      (error: Error) => {
        if (!stopped) sendBack({ type: "watch.failed", error: error.message });
      },
    );
  return () => {
    stopped = true;
    cache.handle?.cancel();
    cache.handle = null;
    cache.unwatched();
  };
});

export const watchCacheMachine = setup({
  types: {
    context: {} as WatchCacheContext,
    input: {} as { cache: WatchCache; limits: WatchCacheLimits },
    events: {} as WatchCacheEvent,
  },
  actors: { loadCache, watchStore },
  delays: { reloadBackoff: ({ context }) => context.limits.reloadBackoffMs },
  actions: {
    installSnapshot: assign(({ context }, loaded: { index: CacheIndex; revision: number }) => {
      context.cache.installed(loaded.index, loaded.revision);
      context.cache.logger?.info(
        { objects: loaded.index.size, revision: loaded.revision },
        "watch cache loaded",
      );
      return { loads: context.loads + 1, lastError: null };
    }),
    recordError: assign((_, error: string) => ({ lastError: error })),
  },
}).createMachine({
  id: "watch-cache",
  context: ({ input }) => ({ cache: input.cache, limits: input.limits, loads: 0, lastError: null }),
  initial: "loading",
  on: { "cache.stop": { target: ".stopped" } },
  states: {
    loading: {
      invoke: {
        src: "loadCache",
        input: ({ context }) => ({ cache: context.cache }),
        onDone: {
          target: "watching",
          actions: { type: "installSnapshot", params: ({ event }) => event.output },
        },
        onError: {
          target: "backoff",
          actions: { type: "recordError", params: ({ event }) => String(event.error) },
        },
      },
    },
    watching: {
      invoke: { src: "watchStore", input: ({ context }) => ({ cache: context.cache }) },
      on: {
        // compacted past the cache, a slow consumer, a restored snapshot: load afresh
        "watch.canceled": {
          target: "loading",
          actions: { type: "recordError", params: ({ event }) => event.reason },
        },
        "watch.failed": {
          target: "backoff",
          actions: { type: "recordError", params: ({ event }) => event.error },
        },
      },
    },
    backoff: { after: { reloadBackoff: "loading" } },
    stopped: { type: "final" },
  },
});
