/**
 * kube-apiserver's GuaranteedUpdate (storage.Interface over etcd3): read the object, compute its
 * next state, write it guarded by the revision that was read — and when another write got in
 * between, start again from a fresh read until the write applies. So an update, patch, scale or
 * binding that pinned no resourceVersion never fails for a concurrent write (a controller
 * writing status right after a create); only a precondition the caller set — a resourceVersion
 * in the body or the patch, a delete's preconditions — answers 409 Conflict.
 *
 * The first read may be the watch cache's copy (the cacher's suggestion): it saves a quorum read
 * but may be stale, so any failure it leads to is retried from a linearizable read, whose answer
 * stands.
 */
import type { JsonObject, JsonValue } from "../api/json.ts";
import { RESOURCES } from "../api/resources.ts";
import { badRequestStatus, conflictStatus, notFoundStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import { shouldDeleteDuringUpdate } from "./object-deletion.ts";
import { sameObject } from "./object-lifecycle.ts";
import {
  type AlsoInTxn,
  NOTHING_ELSE,
  type ObjectStore,
  type StoredObject,
} from "./object-store.ts";
import { collectionPrefix, objectKey } from "./registry-keys.ts";
import type { ResourceRequest } from "./request-info.ts";

/**
 * Attempts before a write that keeps losing races gives up with 409. kube-apiserver loops until
 * its request times out; a bound keeps a livelocked request from spinning forever, and at a few
 * milliseconds an attempt it is far beyond what a write racing a controller's status updates
 * needs (each attempt loses only if another write lands inside its read-to-write window).
 */
export const MAX_WRITE_ATTEMPTS = 100;

/** Another write got in between this attempt's read and its write: try again from a fresh read. */
export class WriteRaced extends Error {
  constructor() {
    super("the object changed between read and write");
  }
}

/**
 * What a kind keeps in the store beside its objects, written in the object's own txn (a
 * Service's cluster IPs and NodePorts: service-allocator.ts).
 */
export interface HeldValues {
  /**
   * `next` (replacing `old`, null on create) with the values it needs filled in, and the keys
   * that claim and release them. `fresh`: an earlier attempt lost a race, so read the store
   * rather than a cache. Throws an ApiError when the values cannot be had.
   */
  onWrite(
    next: JsonObject,
    old: JsonObject | null,
    fresh: boolean,
  ): Promise<{ object: JsonObject; also: AlsoInTxn }>;
  /** The keys to release in the txn that removes `object`. */
  onRemove(object: JsonObject): Promise<AlsoInTxn>;
}

/** The next state of an object, computed from its current one. */
export interface UpdateAttempt {
  next: JsonObject;
  /** The revision the request pinned (a resourceVersion it sent); null: it pinned none. */
  precondition: number | null;
}

/**
 * The revision a request pins through the resourceVersion its object carries, null for none: an
 * update pins any it sends; a patch carries along the one of the object it was applied to
 * (`patchedFrom`), so it pins only one it set itself. 400 when it is not a revision.
 */
export function pinnedRevision(
  rv: JsonValue | undefined,
  patchedFrom?: JsonValue | undefined,
): number | null {
  if (rv === undefined || rv === null || rv === "") return null;
  if (patchedFrom !== undefined && rv === patchedFrom) return null;
  const n = typeof rv === "string" && /^\d+$/.test(rv) ? Number(rv) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new ApiError(badRequestStatus(`invalid resourceVersion: ${String(rv)}`));
  return n;
}

export function notFoundError(req: ResourceRequest): ApiError {
  const r = req.resource;
  return new ApiError(notFoundStatus({ group: r.group, resource: r.plural }, req.name ?? ""));
}

export function conflictError(req: ResourceRequest, message?: string): ApiError {
  const r = req.resource;
  return new ApiError(
    conflictStatus({ group: r.group, resource: r.plural }, req.name ?? "", message),
  );
}

export function keyOf(req: ResourceRequest): string {
  return objectKey(req.resource, req.namespace, req.name ?? "");
}

/** The object `req` names, read linearizably; 404 when there is none. */
export async function readObject(store: ObjectStore, req: ResourceRequest): Promise<StoredObject> {
  const found = await store.get(keyOf(req), false);
  if (found === null) throw notFoundError(req);
  return found;
}

/** Runs `attempt` again while it loses races, up to MAX_WRITE_ATTEMPTS. */
export async function retryRaced<T>(req: ResourceRequest, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof WriteRaced)) throw error;
      if (n >= MAX_WRITE_ATTEMPTS) throw conflictError(req);
    }
  }
}

/**
 * Updates the object `req` names to what `tryUpdate` makes of its current state; returns it as
 * stored (as it would be, on a dry run). An update that takes the last finalizer off a deleting
 * object removes it instead. `held`: what the kind keeps beside the object.
 */
export function guaranteedUpdate(
  store: ObjectStore,
  req: ResourceRequest,
  dryRun: boolean,
  tryUpdate: (current: StoredObject) => UpdateAttempt,
  held: HeldValues | null = null,
): Promise<JsonObject> {
  let suggested = dryRun ? null : store.suggestion(keyOf(req));
  let attempts = 0;
  return retryRaced(req, async () => {
    const current = suggested ?? (await readObject(store, req));
    suggested = null;
    const fresh = ++attempts > 1;
    try {
      const attempt = tryUpdate(current);
      return await updateOnce(store, req, current, dryRun, attempt, { held, fresh });
    } catch (error) {
      // whatever a possibly stale copy led to is decided again from a fresh read
      if (current.suggested && error instanceof ApiError) throw new WriteRaced();
      throw error;
    }
  });
}

async function updateOnce(
  store: ObjectStore,
  req: ResourceRequest,
  current: StoredObject,
  dryRun: boolean,
  { next: asAsked, precondition }: UpdateAttempt,
  { held, fresh }: { held: HeldValues | null; fresh: boolean },
): Promise<JsonObject> {
  if (precondition !== null && precondition !== current.modRevision) throw conflictError(req);
  const removing = shouldDeleteDuringUpdate(asAsked, current.object);
  const { object: next, also } =
    held === null || removing
      ? { object: asAsked, also: NOTHING_ELSE }
      : await held.onWrite(asAsked, current.object, fresh);
  // an unchanged object under an old encryption key is written anyway: that re-encrypts it
  if (sameObject(next, current.object) && current.staleEncryption !== true) {
    // a suggested copy cannot answer without a write: read again
    if (current.suggested) throw new WriteRaced();
    return current.object;
  }
  if (dryRun) return next;
  if (removing) {
    await removeObject(store, req, current, held);
    return next;
  }
  const out = await store.update(keyOf(req), next, current.modRevision, also);
  if (out.kind === "ok") return out.object;
  if (out.kind === "notFound") throw notFoundError(req);
  throw new WriteRaced();
}

/**
 * Removes the object as `current` read it (WriteRaced if it moved on), releasing what it held
 * beside it. A namespace takes its contents with it (the namespace controller's job, done in one
 * txn; what its Services held is left to leak, and is taken over by the next Service that picks
 * it: service-allocator.ts).
 */
export async function removeObject(
  store: ObjectStore,
  req: ResourceRequest,
  current: StoredObject,
  held: HeldValues | null,
): Promise<void> {
  const contents =
    req.resource.plural === "namespaces"
      ? RESOURCES.filter((x) => x.namespaced).map((x) => collectionPrefix(x, req.name))
      : [];
  const also = held === null ? NOTHING_ELSE : await held.onRemove(current.object);
  const out = await store.delete(keyOf(req), current.modRevision, contents, also);
  if (out.kind === "notFound") throw notFoundError(req);
  if (out.kind === "conflict") throw new WriteRaced();
}
