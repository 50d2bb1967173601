/**
 * The garbage collector (kube-controller-manager's `garbagecollector`): ownerReferences and the
 * three deletion propagation policies the API server records on a deleted owner.
 *
 * - Background: a dependent whose every owner is gone (404, or a new object with the same name
 *   and another uid) is deleted.
 * - Foreground: an owner with a deletionTimestamp and the `foregroundDeletion` finalizer has its
 *   dependents deleted — in Foreground themselves when they have dependents of their own, so a
 *   Deployment's pods go before its ReplicaSets — and the finalizer removed once no dependent
 *   with `blockOwnerDeletion: true` is left. A dependent that another, live owner keeps loses
 *   its reference to the waiting owner instead.
 * - Orphan: an owner with a deletionTimestamp and the `orphan` finalizer has its uid removed
 *   from every dependent's ownerReferences, then the finalizer removed.
 *
 * One collector per resource (every resource that can be listed, watched and deleted, events
 * aside as in Kubernetes' default ignore list); each plays both parts for the objects of its
 * resource: as dependents (their owners' fate) and as owners (their GC finalizers). The
 * collectors of one controller manager share an index owner uid → dependents, so that an
 * owner's deletion reaches its dependents without scanning every cache.
 *
 * Absence is confirmed with linearizable reads, never from a cache alone: an owner is gone only
 * when a GET says so, and an owner's last dependents are looked for with LISTs before its
 * finalizer goes. Deletes and reference removals are guarded by the resourceVersion the
 * decision was made on: an informer that lags must not make the collector act on a state that
 * has already changed (a dependent just orphaned must not be collected as ownerless).
 *
 * Not done: Kubernetes' cycle breaking between owners that wait on each other in Foreground.
 */

import type { PropagationPolicy } from "../api/api-protocol.ts";
import { asObject, type JsonObject } from "../api/json.ts";
import {
  FINALIZER_DELETE_DEPENDENTS,
  FINALIZER_ORPHAN_DEPENDENTS,
  finalizersOf,
} from "../api/object-meta.ts";
import { RESOURCES, type ResourceInfo, resourceByKind } from "../api/resources.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import { keyOf, keyString, type ObjectKey } from "../client/object-key.ts";
import type { CacheReader } from "../client/shared-informers.ts";
import type {
  ControllerContext,
  ControllerDefinition,
  ReconcileResult,
  WatchEventKind,
} from "./controller.ts";
import {
  isBeingDeleted,
  nameOf,
  namespaceOf,
  type OwnerReference,
  ownerReferencesOf,
  uidOf,
  withOwnerReferences,
} from "./owner-references.ts";

/** Resources Kubernetes' collector leaves alone unless told otherwise (`DefaultIgnoredResources`). */
const IGNORED_RESOURCES = new Set(["events"]);

function resourceName(r: ResourceInfo): string {
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

const COLLECTABLE = RESOURCES.filter(
  (r) =>
    r.verbs.includes("list") &&
    r.verbs.includes("watch") &&
    r.verbs.includes("delete") &&
    !IGNORED_RESOURCES.has(resourceName(r)),
);

/**
 * Every resource the collector follows, as `plural` or `plural.group`: once each, though a
 * resource may be served in several versions (autoscaling v1 and v2 are one resource).
 */
export const GC_RESOURCES: readonly string[] = [...new Set(COLLECTABLE.map(resourceName))];

const INFO_BY_NAME = new Map(COLLECTABLE.map((r) => [resourceName(r), r]));

/** Reference updates retried on a conflict before the reconcile fails (and is retried). */
const MAX_CONFLICT_RETRIES = 5;
/**
 * While a Foreground owner waits, it also looks again this often: its dependents' events bring
 * it back, but a dependent the caches never saw (created just before the owner's deletion and
 * found by the final LIST) would not.
 */
export const FOREGROUND_RECHECK_MS = 1_000;

function ownerInfo(ref: OwnerReference): ResourceInfo | undefined {
  const slash = ref.apiVersion.indexOf("/");
  return resourceByKind(ref.kind, slash < 0 ? "" : ref.apiVersion.slice(0, slash));
}

/** `replicasets.apps` for `{apiVersion: "apps/v1", kind: "ReplicaSet"}`. */
export function ownerResource(ref: OwnerReference): string | undefined {
  const r = ownerInfo(ref);
  return r ? resourceName(r) : undefined;
}

function hasFinalizer(object: JsonObject, finalizer: string): boolean {
  return finalizersOf(object.metadata).includes(finalizer);
}

/** Being deleted in Foreground: waiting for its blocking dependents to go. */
export function isDeletingDependents(object: JsonObject): boolean {
  return isBeingDeleted(object) && hasFinalizer(object, FINALIZER_DELETE_DEPENDENTS);
}

export interface DependentRef {
  resource: string;
  key: ObjectKey;
}

/**
 * Owner uid → the objects whose ownerReferences name it, over every followed resource (the
 * part of Kubernetes' GraphBuilder the collectors need). Each collector feeds it the events of
 * its own resource; it holds one entry per cached object that has owners.
 */
export class DependentsIndex {
  private readonly byOwner = new Map<string, Map<string, DependentRef>>();
  private readonly ownersOf = new Map<string, string[]>();

  observe(resource: string, object: JsonObject, event: WatchEventKind): void {
    const key = keyOf(object);
    const id = `${resource}|${keyString(key)}`;
    for (const uid of this.ownersOf.get(id) ?? []) {
      const dependents = this.byOwner.get(uid);
      dependents?.delete(id);
      if (dependents?.size === 0) this.byOwner.delete(uid);
    }
    this.ownersOf.delete(id);
    if (event === "delete") return;
    const uids = [...new Set(ownerReferencesOf(object).map((r) => r.uid))];
    if (uids.length === 0) return;
    this.ownersOf.set(id, uids);
    for (const uid of uids) {
      const dependents = this.byOwner.get(uid) ?? new Map<string, DependentRef>();
      dependents.set(id, { resource, key });
      this.byOwner.set(uid, dependents);
    }
  }

  dependentsOf(uid: string): DependentRef[] {
    return [...(this.byOwner.get(uid)?.values() ?? [])];
  }
}

/** The collectors of one controller manager share one cache, and so one index. */
const INDEXES = new WeakMap<CacheReader, DependentsIndex>();

function indexFor(cache: CacheReader): DependentsIndex {
  let index = INDEXES.get(cache);
  if (!index) {
    index = new DependentsIndex();
    INDEXES.set(cache, index);
  }
  return index;
}

type OwnerState = "solid" | "dangling" | "waiting";

/**
 * The collector of `resource`. `followed` is every resource whose objects may own or depend on
 * this one's (all of GC_RESOURCES in the controller manager).
 */
export function garbageCollector(
  ctx: ControllerContext,
  resource: string,
  followed: readonly string[] = GC_RESOURCES,
): ControllerDefinition {
  const { api, cache } = ctx;
  const index = indexFor(cache);
  const found = INFO_BY_NAME.get(resource);
  if (!found) throw new Error(`the garbage collector cannot follow ${resource}`);
  const self: ResourceInfo = found;
  const scope = (info: ResourceInfo, namespace: string) => (info.namespaced ? namespace : "");

  /** Kubernetes' `classifyReferences` for one reference. */
  async function ownerState(ref: OwnerReference, namespace: string): Promise<OwnerState> {
    const info = ownerInfo(ref);
    if (!info) return "solid"; // a kind we do not know: leave the dependent alone
    const name = resourceName(info);
    const key = { namespace: scope(info, namespace), name: ref.name };
    let owner = cache.get(name, key);
    if (!owner || uidOf(owner) !== ref.uid) {
      try {
        owner = await api.get(name, ref.name, { namespace: key.namespace });
      } catch (error) {
        if (isNotFound(error)) return "dangling";
        throw error;
      }
      if (uidOf(owner) !== ref.uid) return "dangling";
    }
    return isDeletingDependents(owner) ? "waiting" : "solid";
  }

  /** The dependent's part (`attemptToDeleteItem`): collect it, or drop references, or leave it. */
  async function collect(dependent: JsonObject): Promise<undefined> {
    const refs = ownerReferencesOf(dependent);
    if (refs.length === 0) return undefined;
    const namespace = namespaceOf(dependent);
    const states = new Map<string, OwnerState>();
    for (const ref of refs) states.set(ref.uid, await ownerState(ref, namespace));
    const of = (s: OwnerState) => refs.filter((r) => states.get(r.uid) === s);
    const guard = {
      uid: uidOf(dependent),
      resourceVersion: String(asObject(dependent.metadata).resourceVersion ?? ""),
    };
    if (of("solid").length > 0) {
      if (of("dangling").length === 0 && of("waiting").length === 0) return undefined;
      // a live owner keeps it: only the references to owners that are gone, or that wait for
      // their dependents (which would otherwise wait forever), go
      const keep = refs.filter((r) => states.get(r.uid) === "solid");
      await ignoringStale(() =>
        api.update(resource, withOwnerReferences(dependent, keep), { namespace }),
      );
      return undefined;
    }
    const policy: PropagationPolicy =
      of("waiting").length > 0 && index.dependentsOf(guard.uid).length > 0
        ? "Foreground"
        : ownPolicy(dependent);
    await ignoringStale(() =>
      api.delete(resource, nameOf(dependent), {
        namespace,
        preconditions: guard,
        propagationPolicy: policy,
      }),
    );
    return undefined;
  }

  /** 404: already gone; 409: our view was stale, and the event that brings the new one will come. */
  async function ignoringStale(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (!(isNotFound(error) || isConflict(error))) throw error;
    }
  }

  /** The objects that name `owner` now, read linearizably (never from the caches). */
  async function liveDependents(
    owner: JsonObject,
  ): Promise<{ resource: string; object: JsonObject }[]> {
    const uid = uidOf(owner);
    const found: { resource: string; object: JsonObject }[] = [];
    for (const other of followed) {
      const info = INFO_BY_NAME.get(other);
      // a cluster-scoped object cannot name a namespaced owner; a namespaced one only an owner
      // in its own namespace
      if (!info || (self.namespaced && !info.namespaced)) continue;
      const list = await api.list(
        self.namespaced ? { resource: other, namespace: namespaceOf(owner) } : { resource: other },
      );
      for (const object of list.items)
        if (ownerReferencesOf(object).some((r) => r.uid === uid))
          found.push({ resource: other, object });
    }
    return found;
  }

  /** Rewrites `object` (fresh after a conflict) until `change` has nothing left to do. */
  async function updateWithRetries(
    of: string,
    object: JsonObject,
    change: (current: JsonObject) => JsonObject | null,
  ): Promise<void> {
    let current = object;
    const uid = uidOf(object);
    const namespace = namespaceOf(object);
    for (let attempt = 1; ; attempt++) {
      const next = change(current);
      if (next === null) return;
      try {
        await api.update(of, next, { namespace });
        return;
      } catch (error) {
        if (isNotFound(error)) return;
        if (!isConflict(error) || attempt >= MAX_CONFLICT_RETRIES) throw error;
      }
      try {
        current = await api.get(of, nameOf(object), { namespace });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      if (uidOf(current) !== uid) return; // deleted and created again: not ours any more
    }
  }

  function removeFinalizer(owner: JsonObject, finalizer: string): Promise<void> {
    return updateWithRetries(resource, owner, (current) => {
      const finalizers = finalizersOf(current.metadata);
      if (!finalizers.includes(finalizer)) return null;
      const metadata = {
        ...(current.metadata as JsonObject),
        finalizers: finalizers.filter((f) => f !== finalizer),
      };
      return { ...current, metadata };
    });
  }

  /** Orphan (`attemptToOrphanWorker`): every dependent forgets the owner, then the owner goes. */
  async function orphanDependents(owner: JsonObject): Promise<undefined> {
    const uid = uidOf(owner);
    for (const { resource: of, object } of await liveDependents(owner))
      await updateWithRetries(of, object, (current) => {
        const refs = ownerReferencesOf(current);
        if (!refs.some((r) => r.uid === uid)) return null;
        return withOwnerReferences(
          current,
          refs.filter((r) => r.uid !== uid),
        );
      });
    await removeFinalizer(owner, FINALIZER_ORPHAN_DEPENDENTS);
    return undefined;
  }

  /**
   * Foreground (`processDeletingDependentsItem`): the dependents' own collectors delete them
   * (each owner event maps to them); the owner's finalizer goes once none that blocks is left.
   */
  async function awaitDependents(owner: JsonObject): Promise<ReconcileResult | undefined> {
    const uid = uidOf(owner);
    const blocks = (d: JsonObject) =>
      ownerReferencesOf(d).some((r) => r.uid === uid && r.blockOwnerDeletion === true);
    const cached = index
      .dependentsOf(uid)
      .map((d) => cache.get(d.resource, d.key))
      .filter((d): d is JsonObject => d !== undefined && blocks(d));
    if (cached.length > 0) return { requeueAfterMs: FOREGROUND_RECHECK_MS };
    const live = (await liveDependents(owner)).filter((d) => blocks(d.object));
    if (live.length > 0) return { requeueAfterMs: FOREGROUND_RECHECK_MS };
    await removeFinalizer(owner, FINALIZER_DELETE_DEPENDENTS);
    return undefined;
  }

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    const object = cache.get(resource, key);
    if (!object) return undefined;
    // being deleted is a one-way trip: only the owner's part is left to play
    if (isBeingDeleted(object)) {
      if (hasFinalizer(object, FINALIZER_ORPHAN_DEPENDENTS)) return orphanDependents(object);
      if (hasFinalizer(object, FINALIZER_DELETE_DEPENDENTS)) return awaitDependents(object);
      return undefined;
    }
    return collect(object);
  }

  /** Keys of this resource that an event on `other` concerns. */
  function affected(
    other: string,
    object: JsonObject,
    event: WatchEventKind,
    previous: JsonObject | undefined,
  ): ObjectKey[] {
    if (other === resource) index.observe(resource, object, event);
    const keys = new Map<string, ObjectKey>();
    const add = (key: ObjectKey) => keys.set(keyString(key), key);
    // `object` as an owner: when it goes, or starts waiting for them, its dependents here act
    if (event === "delete" || isDeletingDependents(object))
      for (const d of index.dependentsOf(uidOf(object))) if (d.resource === resource) add(d.key);
    // `object` as a dependent: an owner here waiting for it looks again when it changes or goes
    // (the references it had before an update count too: dropping one can free the owner)
    const refs = [...ownerReferencesOf(object), ...(previous ? ownerReferencesOf(previous) : [])];
    for (const ref of refs) {
      if (ownerResource(ref) !== resource) continue;
      const key = { namespace: scope(self, namespaceOf(object)), name: ref.name };
      const owner = cache.get(resource, key);
      if (owner && uidOf(owner) === ref.uid && isDeletingDependents(owner)) add(key);
    }
    return [...keys.values()];
  }

  return {
    name: `garbage-collector:${resource}`,
    primary: resource,
    // as Kubernetes' attemptToDelete queue: only objects with owners, or being deleted (with
    // finalizers for their dependents), have anything for the collector to do; the rest of a
    // busy resource's events (every pod's status) are not queued
    primaryFilter: (object, event) =>
      event !== "delete" && (isBeingDeleted(object) || ownerReferencesOf(object).length > 0),
    watches: followed.map((other) => ({
      resource: other,
      map: (object: JsonObject, event: WatchEventKind, previous?: JsonObject) =>
        affected(other, object, event, previous),
    })),
    reconcile,
  };
}

/** The policy a dependent's own finalizers ask for when it is collected (`attemptToDeleteItem`). */
function ownPolicy(dependent: JsonObject): PropagationPolicy {
  if (hasFinalizer(dependent, FINALIZER_ORPHAN_DEPENDENTS)) return "Orphan";
  if (hasFinalizer(dependent, FINALIZER_DELETE_DEPENDENTS)) return "Foreground";
  return "Background";
}
