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
import type { FieldSelector } from "../api/field-selector.ts";
import { asObject, type JsonObject } from "../api/json.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import { type CachedObject, CacheIndex, type CachePage } from "./cache-index.ts";
import { RevisionBarrier } from "./revision-barrier.ts";
import type { ObjectChange, ObjectWatchResponse } from "./watch-events.ts";

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
  /** Changes kept for watches that start in the past; an older start watches the store. */
  maxHistoryChanges: number;
  /** Watches served from the cache at once; more watch the store. */
  maxWatchers: number;
}

export const DEFAULT_WATCH_CACHE_LIMITS: WatchCacheLimits = {
  maxWaitMs: 1_000,
  progressIntervalMs: 5,
  loadPageKeys: 5_000,
  reloadBackoffMs: 500,
  maxWaiters: 10_000,
  maxHistoryChanges: 10_000,
  maxWatchers: 10_000,
};

export const WATCH_CACHE_PREFIX = "/registry/";
const enc = (s: string) => Buffer.from(s, "utf8");

/**
 * kube-apiserver's cacher "trigger": a watcher that selects pods by `spec.nodeName=X` (every
 * kubelet) is only offered changes to pods on X, instead of evaluating its selector against
 * every pod change — with a thousand nodes, a thousand times less work per pod write.
 */
export interface WatchTrigger {
  field: "spec.nodeName";
  value: string;
}

/** The trigger of a field selector, when it pins spec.nodeName to one value. */
export function triggerOf(selector: FieldSelector | null): WatchTrigger | undefined {
  const pinned = selector?.requirements.find(
    (r) => r.field === "spec.nodeName" && r.operator === "=",
  );
  return pinned ? { field: "spec.nodeName", value: pinned.value } : undefined;
}

function nodeNameOf(object: JsonObject | undefined): string | undefined {
  const v = object === undefined ? undefined : asObject(object.spec).nodeName;
  return typeof v === "string" ? v : undefined;
}

interface Watcher {
  trigger: WatchTrigger | undefined;
  prefix: string;
  /** The first revision it wants. */
  from: number;
  onResponse: (r: ObjectWatchResponse) => void;
}

interface HistoryEntry {
  revision: number;
  changes: ObjectChange[];
}

/** A deleted object as its DELETED event carries it: resourceVersion = the delete's revision. */
function asDeletedAt(object: JsonObject, revision: number): JsonObject {
  return {
    ...object,
    metadata: { ...asObject(object.metadata), resourceVersion: String(revision) },
  };
}

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
  private readonly watchers = new Set<Watcher>();
  /**
   * Watchers with a spec.nodeName trigger, by node (the cacher's trigger index): a change is
   * offered only to its node's watchers, not filtered by each of a thousand kubelets' watches.
   */
  private readonly byNode = new Map<string, Set<Watcher>>();
  /** Watchers without a trigger: every change is offered to each. */
  private readonly plain = new Set<Watcher>();
  /** Recent changes, oldest first; every change from `historyFrom` on is here. */
  private history: HistoryEntry[] = [];
  private historyChanges = 0;
  private historyFrom = 1;
  /** The live store watch, while `watching` (set by the statechart's watch). */
  handle: WatchHandle | null = null;

  constructor(
    readonly client: () => StoreClient,
    private readonly clock: Clock,
    limits: Partial<WatchCacheLimits> = {},
    readonly logger?: Logger,
    /**
     * The store's compacted revision (this server's replica): a watch from at or below it is
     * left to the store, which answers 410 Gone, as the API promises after a compaction.
     */
    private readonly compactRevision: () => number = () => 0,
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

  /**
   * A watch of `prefix` from `startRevision` (0: from now) served from the cache, or null when
   * the cache cannot serve it (not live, too many watchers, or history already dropped): then
   * the caller watches the store. Changes before the call are replayed at once, in order.
   */
  subscribe(
    prefix: string,
    startRevision: number,
    onResponse: (r: ObjectWatchResponse) => void,
    trigger?: WatchTrigger,
  ): WatchHandle | null {
    if (!this.watching || this.watchers.size >= this.limits.maxWatchers) return null;
    const from = startRevision > 0 ? startRevision : this.revision + 1;
    if (from < this.historyFrom || from <= this.compactRevision()) return null;
    const watcher: Watcher = { trigger, prefix, from, onResponse };
    for (const entry of this.history) if (entry.revision >= from) deliver(watcher, entry);
    this.add(watcher);
    return {
      cancel: () => this.remove(watcher),
      // everything up to the cache's revision has been handed over already
      requestProgress: () =>
        queueMicrotask(() => {
          if (this.watchers.has(watcher))
            watcher.onResponse({ kind: "progress", revision: this.revision });
        }),
    };
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
    this.history = [];
    this.historyChanges = 0;
    this.historyFrom = revision + 1;
  }

  watched(): void {
    this.watching = true;
    this.wakeWaiters();
  }

  /** The watch ended: reads go to the store until the cache is loaded again. */
  unwatched(): void {
    this.watching = false;
    // their history is gone with this watch: they watch again, from the store or a new cache
    for (const watcher of this.watchers)
      watcher.onResponse({ kind: "canceled", reason: "restored" });
    this.watchers.clear();
    this.byNode.clear();
    this.plain.clear();
    for (const waiter of this.waiters) {
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.waiters.clear();
  }

  apply(response: WatchResponse): void {
    if (response.kind === "events") {
      const changes: ObjectChange[] = [];
      for (const e of response.events) {
        const key = Buffer.from(e.kv.key).toString("utf8");
        const revision = e.kv.modRevision;
        const before = this.index.get(key);
        if (e.type === "PUT") {
          const now = this.index.put(key, e.kv.value, revision);
          const created = e.kv.createRevision === revision;
          changes.push({
            key,
            revision,
            object: now.object,
            ...(before && !created ? { previous: before.object } : {}),
          });
        } else {
          this.index.delete(key);
          changes.push({
            key,
            revision,
            ...(before ? { previous: asDeletedAt(before.object, revision) } : {}),
          });
        }
      }
      this.remember({ revision: response.header.revision, changes });
    }
    if (response.kind === "events" || response.kind === "progress") {
      this.revision = Math.max(this.revision, response.header.revision);
      this.wakeWaiters();
    }
  }

  /** Keeps `entry` for watches that start in the past, and hands it to the live ones. */
  private remember(entry: HistoryEntry): void {
    this.history.push(entry);
    this.historyChanges += entry.changes.length;
    while (this.historyChanges > this.limits.maxHistoryChanges && this.history.length > 1) {
      const dropped = this.history.shift() as HistoryEntry;
      this.historyChanges -= dropped.changes.length;
      this.historyFrom = dropped.revision + 1;
    }
    for (const watcher of this.plain) deliver(watcher, entry);
    if (this.byNode.size > 0) this.deliverByNode(entry);
  }

  /** Each triggered watcher gets the entry's changes of its node (as `deliver` would pick). */
  private deliverByNode(entry: HistoryEntry): void {
    const picked = new Map<Watcher, ObjectChange[]>();
    const offer = (node: string | undefined, change: ObjectChange) => {
      if (node === undefined) return;
      for (const watcher of this.byNode.get(node) ?? []) {
        if (entry.revision < watcher.from || !change.key.startsWith(watcher.prefix)) continue;
        const changes = picked.get(watcher);
        if (changes === undefined) picked.set(watcher, [change]);
        else if (changes.at(-1) !== change) changes.push(change);
      }
    };
    for (const change of entry.changes) {
      offer(nodeNameOf(change.object), change);
      offer(nodeNameOf(change.previous), change);
    }
    for (const [watcher, changes] of picked)
      watcher.onResponse({ kind: "changes", revision: entry.revision, changes });
  }

  private add(watcher: Watcher): void {
    this.watchers.add(watcher);
    const node = watcher.trigger?.value;
    if (node === undefined) {
      this.plain.add(watcher);
      return;
    }
    const set = this.byNode.get(node) ?? new Set<Watcher>();
    set.add(watcher);
    this.byNode.set(node, set);
  }

  private remove(watcher: Watcher): void {
    this.watchers.delete(watcher);
    const node = watcher.trigger?.value;
    if (node === undefined) {
      this.plain.delete(watcher);
      return;
    }
    const set = this.byNode.get(node);
    set?.delete(watcher);
    if (set?.size === 0) this.byNode.delete(node);
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

/** The part of `entry` a watcher wants, if any. */
function deliver(watcher: Watcher, entry: HistoryEntry): void {
  if (entry.revision < watcher.from) return;
  const node = watcher.trigger?.value;
  const changes = entry.changes.filter(
    (c) =>
      c.key.startsWith(watcher.prefix) &&
      // a pod moving onto or off the node matters too (its selector turns it into ADDED/DELETED)
      (node === undefined || nodeNameOf(c.object) === node || nodeNameOf(c.previous) === node),
  );
  if (changes.length > 0)
    watcher.onResponse({ kind: "changes", revision: entry.revision, changes });
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
