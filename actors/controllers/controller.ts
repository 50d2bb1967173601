/**
 * The controller contract (controller-runtime's `Reconcile(ctx, request) → (result, error)`):
 * a controller is a reconcile function for one object key plus a declaration of what it
 * watches. The runtime (`controller-runner.ts`) does the rest: informers, the rate-limited work
 * queue, retries with backoff, the reconcile statechart.
 *
 * - `primary`: every event on this resource enqueues the object's own key.
 * - `owns`: events on these resources enqueue the key of the object's controller owner
 *   (the ownerReference with `controller: true`) when its kind is the primary's kind.
 * - `watches`: anything else, mapped to keys by the controller (the garbage collector maps an
 *   owner's deletion to its dependents).
 *
 * `reconcile` must be idempotent and level-based: it reads the world (caches, API), acts, and
 * returns. A thrown error retries the key with per-key exponential backoff; `requeueAfterMs`
 * looks again later without counting as a failure.
 */
import { asObject, type JsonObject } from "../api/json.ts";
import type { ApiClient } from "../client/api-client.ts";
import type { InformerCache } from "../client/informer-cache.ts";

export interface ObjectKey {
  /** "" for cluster-scoped objects. */
  namespace: string;
  name: string;
}

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type WatchEventKind = "add" | "update" | "delete";

export interface WatchDeclaration {
  /** A plural, `plural.group` for named groups (`replicasets.apps`). */
  resource: string;
  /**
   * `previous` is the object before an update (client-go's `UpdateFunc(old, new)`): a pod whose
   * labels changed must still reach the Services its old labels matched.
   */
  map(object: JsonObject, event: WatchEventKind, previous?: JsonObject): ObjectKey[];
}

export interface ControllerDefinition {
  /** Unique per controller manager: `replicaset`, `deployment`, `garbage-collector:pods`. */
  name: string;
  primary: string;
  /** The primary's kind, for matching controller ownerReferences from `owns`. */
  primaryKind?: string;
  owns?: string[];
  watches?: WatchDeclaration[];
  /**
   * Which primary events are worth a reconcile (controller-runtime's predicates): false leaves
   * the event out of the queue. Default: every event.
   */
  primaryFilter?: (object: JsonObject, event: WatchEventKind) => boolean;
  reconcile(key: ObjectKey): Promise<ReconcileResult | undefined>;
}

/** What reconcile functions read: the informers' caches, by resource. */
export interface CacheReader {
  get(resource: string, key: ObjectKey): JsonObject | undefined;
  list(resource: string, namespace?: string): JsonObject[];
}

/** The API verbs controllers write with (ApiClient; an in-memory fake in unit tests). */
export type ObjectApi = Pick<ApiClient, "get" | "list" | "create" | "update" | "delete">;

/** What a controller factory gets from the controller manager. */
export interface ControllerContext {
  api: ObjectApi;
  cache: CacheReader;
  clock: import("../system/clock.ts").Clock;
}

export function keyString(key: ObjectKey): string {
  return key.namespace === "" ? key.name : `${key.namespace}/${key.name}`;
}

export function parseKey(s: string): ObjectKey {
  const slash = s.indexOf("/");
  return slash < 0
    ? { namespace: "", name: s }
    : { namespace: s.slice(0, slash), name: s.slice(slash + 1) };
}

export function keyOf(object: JsonObject): ObjectKey {
  const meta = asObject(object.metadata);
  return {
    namespace: typeof meta.namespace === "string" ? meta.namespace : "",
    name: String(meta.name ?? ""),
  };
}

/** Same key format as the informer cache, so a cache can be read by ObjectKey. */
export function readCache(cache: InformerCache, key: ObjectKey): JsonObject | undefined {
  return cache.get(keyString(key));
}
