/**
 * Kubernetes objects in the replicated store (the apiserver's `storage.Interface` over etcd3):
 * JSON values under registry keys, `metadata.resourceVersion` = the key's modRevision on the
 * way out and never stored. Creates and guarded updates/deletes are txns, so AlreadyExists and
 * Conflict are decided by the state machine, exactly once, whatever server serves the request.
 */

import type { StoreClient, WatchHandle } from "../../raft/client/store-client.ts";
import type { Compare, TxnOp } from "../../raft/mvcc/commands.ts";
import { prefixRangeEnd } from "../../raft/mvcc/key-range.ts";
import type { CommandResponse } from "../../raft/mvcc/responses.ts";
import type { WatchResponse } from "../../raft/mvcc/watch-hub.ts";
import type { JsonObject } from "../api/json.ts";
import { type ResourceInfo, resourceByPlural } from "../api/resources.ts";
import { objectKey } from "./registry-keys.ts";
import { decodeObject, encodeObject, isStaleValue, withRevision } from "./storage-codec.ts";
import type { WatchCache, WatchTrigger } from "./watch-cache.ts";
import { decodeChange, type ObjectWatchResponse } from "./watch-events.ts";

const enc = (s: string) => Buffer.from(s, "utf8");

export interface StoredObject {
  object: JsonObject;
  modRevision: number;
  /** From the watch cache without a quorum read (`suggestion`): possibly stale. */
  suggested?: boolean;
  /** Stored under an encryption key that no longer writes (storage-codec.ts's isStaleValue). */
  staleEncryption?: boolean;
}

/** The outcome of a conditional write, for the handler to turn into a Status. */
export type WriteOutcome =
  | { kind: "ok"; object: JsonObject; revision: number }
  | { kind: "exists" }
  | { kind: "conflict" }
  | { kind: "notFound" }
  | { kind: "namespaceNotFound" };

/**
 * Keys written in the same txn as an object, under their own guards (a Service's allocation
 * keys: created only if absent, released only if still as read). A failed guard fails the
 * whole write.
 */
export interface AlsoInTxn {
  compare: Compare[];
  success: TxnOp[];
}

export const NOTHING_ELSE: AlsoInTxn = { compare: [], success: [] };

export class CompactedError extends Error {
  constructor(readonly compactRevision: number) {
    super(`revision compacted (compact revision ${compactRevision})`);
  }
}

function txnResult(r: CommandResponse): { succeeded: boolean; revision: number } {
  if (r.kind === "error") {
    const e = r as { error: string };
    throw new Error(`store write failed: ${e.error}`);
  }
  if (r.kind !== "txn") throw new Error(`unexpected store response ${r.kind}`);
  return { succeeded: r.succeeded, revision: r.header.revision };
}

export interface ListPage {
  items: JsonObject[];
  /** The revision the page was read at (the list's resourceVersion). */
  revision: number;
  /** The key after which the next page starts, when there is one. */
  nextKey: string | null;
  /** How many more keys the collection holds after this page. */
  remaining: number;
}

/** Where the controller manager's and scheduler's Leases live. */
const ELECTION_LEASES_PREFIX = objectKey(
  resourceByPlural("leases", "coordination.k8s.io") as ResourceInfo,
  "kube-system",
  "",
);

export class ObjectStore {
  constructor(
    private readonly client: () => StoreClient,
    private readonly cache?: WatchCache,
    /**
     * Store sessions kept for leader election (kube-system Leases), as API Priority and
     * Fairness gives leader-election requests their own seats: a Lease renewal must not queue
     * behind a burst of other writes, or a busy cluster's controllers lose their leadership.
     */
    private readonly electionClient?: () => StoreClient,
  ) {}

  /** The store session a write of `key` goes through. */
  private writer(key: string): StoreClient {
    return this.electionClient && key.startsWith(ELECTION_LEASES_PREFIX)
      ? this.electionClient()
      : this.client();
  }

  /**
   * A GET's read: from the watch cache when it is live (after catching up to the store's
   * revision, unless `serializable`), from the store otherwise. The object is shared with the
   * cache: read it, never change it.
   */
  async read(key: string, serializable: boolean): Promise<StoredObject | null> {
    const cache = this.cache;
    if (cache?.ready && (serializable || (await cache.sync()))) {
      const hit = cache.get(key);
      return hit ? { object: hit.object, modRevision: hit.modRevision } : null;
    }
    return this.get(key, serializable);
  }

  /**
   * The watch cache's copy of `key` at once, with no quorum read: where an update starts
   * (kube-apiserver's GuaranteedUpdate takes the cacher's object as its suggestion). It may be
   * stale; the update's write is guarded by its revision, and the caller reads again on failure.
   * Shared with the cache: read it, never change it.
   */
  suggestion(key: string): StoredObject | null {
    const hit = this.cache?.ready ? this.cache.get(key) : undefined;
    return hit ? { object: hit.object, modRevision: hit.modRevision, suggested: true } : null;
  }

  async get(key: string, serializable: boolean): Promise<StoredObject | null> {
    const r = await this.client().range({ key: enc(key) }, serializable);
    const kv = r.kvs[0];
    if (!kv) return null;
    const stored = { object: decodeObject(kv), modRevision: kv.modRevision };
    return isStaleValue(kv) ? { ...stored, staleEncryption: true } : stored;
  }

  /** The current store revision (linearizable). */
  async currentRevision(): Promise<number> {
    const r = await this.client().range({ key: enc("/registry/"), countOnly: true });
    return r.header.revision;
  }

  /** A page of `prefix`, from `startKey` (inclusive), at `revision` (0 = now). */
  async list(
    prefix: string,
    options: {
      startKey?: string;
      revision?: number;
      limit?: number;
      serializable: boolean;
      /** A first page at the current revision may come from the watch cache (read-only items). */
      cached?: boolean;
    },
  ): Promise<ListPage> {
    const cache = this.cache;
    if (options.cached && cache?.ready && !options.startKey && !options.revision) {
      if (options.serializable || (await cache.sync()))
        return cache.page(prefix, options.limit ?? 0);
    }
    const key = enc(options.startKey ?? prefix);
    let r: Awaited<ReturnType<StoreClient["range"]>>;
    try {
      r = await this.client().range(
        {
          key,
          rangeEnd: prefixRangeEnd(enc(prefix)),
          revision: options.revision ?? 0,
          limit: options.limit ?? 0,
        },
        options.serializable,
      );
    } catch (error) {
      const m = /compacted/.exec((error as Error).message);
      if (m) throw new CompactedError(0);
      throw error;
    }
    const items = r.kvs.map(decodeObject);
    const last = r.kvs[r.kvs.length - 1];
    const nextKey = r.more && last ? `${Buffer.from(last.key).toString("utf8")}\u0000` : null;
    return { items, revision: r.header.revision, nextKey, remaining: r.count - r.kvs.length };
  }

  /**
   * Creates `key` if absent (and, for a namespaced object, if its namespace exists), with
   * `also`; `conflict` when only a guard of `also` failed.
   */
  async create(
    key: string,
    object: JsonObject,
    namespaceKey: string | null,
    also: AlsoInTxn = NOTHING_ELSE,
  ): Promise<WriteOutcome> {
    const compare: Compare[] = [
      { target: "createRevision", key: enc(key), result: "=", operand: 0 },
      ...also.compare,
    ];
    if (namespaceKey !== null)
      compare.push({ target: "createRevision", key: enc(namespaceKey), result: ">", operand: 0 });
    const r = txnResult(
      await this.writer(key).write({
        op: "txn",
        compare,
        success: [{ op: "put", key: enc(key), value: encodeObject(object, key) }, ...also.success],
        failure: [],
      }),
    );
    if (r.succeeded)
      return { kind: "ok", object: withRevision(object, r.revision), revision: r.revision };
    if (namespaceKey !== null && (await this.get(namespaceKey, false)) === null)
      return { kind: "namespaceNotFound" };
    if (also.compare.length > 0 && (await this.get(key, false)) === null)
      return { kind: "conflict" };
    return { kind: "exists" };
  }

  /** Replaces `key` if its modRevision is still `expectedModRevision`, with `also`. */
  async update(
    key: string,
    object: JsonObject,
    expectedModRevision: number,
    also: AlsoInTxn = NOTHING_ELSE,
  ): Promise<WriteOutcome> {
    const r = txnResult(
      await this.writer(key).write({
        op: "txn",
        compare: [
          { target: "modRevision", key: enc(key), result: "=", operand: expectedModRevision },
          ...also.compare,
        ],
        success: [{ op: "put", key: enc(key), value: encodeObject(object, key) }, ...also.success],
        failure: [{ op: "range", key: enc(key), countOnly: true }],
      }),
    );
    if (r.succeeded)
      return { kind: "ok", object: withRevision(object, r.revision), revision: r.revision };
    return (await this.get(key, false)) === null ? { kind: "notFound" } : { kind: "conflict" };
  }

  /**
   * Deletes `key` if its modRevision is still `expectedModRevision`, with `alsoDelete` prefixes
   * in the same txn (a namespace's contents), and `also`.
   */
  async delete(
    key: string,
    expectedModRevision: number,
    alsoDeletePrefixes: readonly string[] = [],
    also: AlsoInTxn = NOTHING_ELSE,
  ): Promise<WriteOutcome & { kind: "ok" | "conflict" | "notFound" }> {
    const success: TxnOp[] = [{ op: "deleteRange", key: enc(key) }, ...also.success];
    for (const p of alsoDeletePrefixes)
      success.push({ op: "deleteRange", key: enc(p), rangeEnd: prefixRangeEnd(enc(p)) });
    const r = txnResult(
      await this.writer(key).write({
        op: "txn",
        compare: [
          { target: "modRevision", key: enc(key), result: "=", operand: expectedModRevision },
          ...also.compare,
        ],
        success,
        failure: [],
      }),
    );
    if (r.succeeded) return { kind: "ok", object: {}, revision: r.revision };
    return (await this.get(key, false)) === null ? { kind: "notFound" } : { kind: "conflict" };
  }

  /** A txn of `ops` under `compare` alone (no object): whether it applied. */
  async guarded(compare: Compare[], ops: TxnOp[]): Promise<boolean> {
    const r = txnResult(
      await this.client().write({ op: "txn", compare, success: ops, failure: [] }),
    );
    return r.succeeded;
  }

  /**
   * Watches every object under `prefix` from `startRevision`: from the watch cache when it is
   * live and still holds that revision's history (one decode per change for every watcher),
   * else from the store (a store watch with the previous values, decoded for this watcher).
   */
  async watch(
    prefix: string,
    startRevision: number,
    onResponse: (r: ObjectWatchResponse) => void,
    trigger?: WatchTrigger,
  ): Promise<WatchHandle> {
    const cached = this.cache?.subscribe(prefix, startRevision, onResponse, trigger);
    if (cached) return cached;
    const key = enc(prefix);
    return this.client().watch(
      { key, rangeEnd: prefixRangeEnd(key), startRevision, prevKv: true },
      (r) => onResponse(fromStoreResponse(r)),
    );
  }
}

/** A store watch response as an object watch response. */
function fromStoreResponse(r: WatchResponse): ObjectWatchResponse {
  if (r.kind === "events")
    return { kind: "changes", revision: r.header.revision, changes: r.events.map(decodeChange) };
  if (r.kind === "progress") return { kind: "progress", revision: r.header.revision };
  return {
    kind: "canceled",
    reason: r.reason,
    ...(r.compactRevision !== undefined ? { compactRevision: r.compactRevision } : {}),
  };
}

export type { ResourceInfo };
