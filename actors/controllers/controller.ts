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
import type { JsonObject } from "../api/json.ts";
import type { ObjectApi } from "../client/api-client.ts";
import type { EventRecorderFactory } from "../client/event-recorder.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { CacheReader } from "../client/shared-informers.ts";
import type { Clock } from "../system/clock.ts";

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
  /**
   * Workers taking keys from the queue at once (controller-runtime's MaxConcurrentReconciles,
   * kube-controller-manager's `--concurrent-*-syncs`). The queue never hands one key to two
   * workers, so a reconcile still sees its object alone. Default 1.
   */
  maxConcurrentReconciles?: number;
  reconcile(key: ObjectKey): Promise<ReconcileResult | undefined>;
}

/** What a controller factory gets from the controller manager. */
export interface ControllerContext {
  api: ObjectApi;
  cache: CacheReader;
  clock: Clock;
  /** Where a controller gets its event recorder (one broadcaster per controller manager). */
  events: EventRecorderFactory;
}
