/**
 * What a delete does to an object (the generic registry's `Store.Delete` with `rest.BeforeDelete`
 * and the garbage-collection finalizers), and when an update finishes a deletion
 * (`shouldDeleteDuringUpdate`). Pure: time comes in.
 *
 * - A graceful kind (pods) is marked with `deletionTimestamp = now + grace` and
 *   `deletionGracePeriodSeconds = grace`; a later delete may only shorten that grace.
 * - `propagationPolicy` becomes a finalizer: Orphan → `orphan`, Foreground → `foregroundDeletion`,
 *   Background (the default of every bosun resource, apps/v1 included) → neither.
 * - An object with finalizers is marked as deleting (`deletionTimestamp = now`, grace 0) and
 *   stays until the last finalizer goes; one without is removed at once.
 * - Once a deletion has started, a delete changes nothing (finalizers cannot be changed through
 *   DeleteOptions then), unless it shortens the grace period.
 */
import { asObject, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import {
  FINALIZER_DELETE_DEPENDENTS,
  FINALIZER_ORPHAN_DEPENDENTS,
  finalizersOf,
} from "../api/object-meta.ts";
import type { DeleteOptions } from "./delete-options.ts";

/** A pod's grace period when neither the request nor the pod names one. */
export const DEFAULT_POD_GRACE_PERIOD_SECONDS = 30;

export type DeletionPlan =
  /** Remove the object from the store now. */
  | { kind: "delete" }
  /** Store this version (marked as deleting, finalizers changed, grace shortened); it stays. */
  | { kind: "update"; object: JsonObject }
  /** A deletion is already under way and this request changes nothing. */
  | { kind: "pending" };

function isDeleting(meta: JsonObject): boolean {
  return typeof meta.deletionTimestamp === "string" && meta.deletionTimestamp !== "";
}

/**
 * The pod strategy's `CheckGracefulDelete`: the request's grace, else the pod's own, else 30 s;
 * 0 for a pod that never reached a node or has finished (no kubelet has anything to stop).
 */
export function podGracePeriodSeconds(pod: JsonObject, options: DeleteOptions): number {
  const own = asObject(pod.spec).terminationGracePeriodSeconds;
  let period =
    options.gracePeriodSeconds ??
    (typeof own === "number" ? own : DEFAULT_POD_GRACE_PERIOD_SECONDS);
  const node = asObject(pod.spec).nodeName;
  if (typeof node !== "string" || node === "") period = 0;
  const phase = asObject(pod.status).phase;
  if (phase === "Succeeded" || phase === "Failed") period = 0;
  return period < 0 ? 1 : period;
}

/** `shouldOrphanDependents`: an explicit option wins, then a finalizer already there. */
function shouldOrphan(finalizers: readonly string[], options: DeleteOptions): boolean {
  if (options.orphanDependents !== undefined) return options.orphanDependents;
  if (options.propagationPolicy !== undefined) return options.propagationPolicy === "Orphan";
  for (const f of finalizers) {
    if (f === FINALIZER_ORPHAN_DEPENDENTS) return true;
    if (f === FINALIZER_DELETE_DEPENDENTS) return false;
  }
  return false;
}

/** `shouldDeleteDependents`: Foreground, or the finalizer already there. */
function shouldDeleteDependents(finalizers: readonly string[], options: DeleteOptions): boolean {
  if (options.orphanDependents !== undefined) return false;
  if (options.propagationPolicy !== undefined) return options.propagationPolicy === "Foreground";
  for (const f of finalizers) {
    if (f === FINALIZER_DELETE_DEPENDENTS) return true;
    if (f === FINALIZER_ORPHAN_DEPENDENTS) return false;
  }
  return false;
}

/**
 * `deletionFinalizersForGarbageCollection`: the finalizers after this delete's propagation
 * policy is applied, or null when they stay as they are.
 */
export function garbageCollectionFinalizers(
  finalizers: readonly string[],
  options: DeleteOptions,
): string[] | null {
  const next = finalizers.filter(
    (f) => f !== FINALIZER_ORPHAN_DEPENDENTS && f !== FINALIZER_DELETE_DEPENDENTS,
  );
  if (shouldOrphan(finalizers, options)) next.push(FINALIZER_ORPHAN_DEPENDENTS);
  if (shouldDeleteDependents(finalizers, options)) next.push(FINALIZER_DELETE_DEPENDENTS);
  const before = new Set(finalizers);
  const same = before.size === new Set(next).size && next.every((f) => before.has(f));
  return same ? null : next;
}

/** Kinds that count spec changes count their deletion too (so observers see a new generation). */
function bumpGeneration(meta: JsonObject): void {
  if (typeof meta.generation === "number" && meta.generation > 0)
    meta.generation = meta.generation + 1;
}

/**
 * The plan for deleting `object`. `gracePeriodSeconds` is the kind's graceful-deletion period
 * for an object not yet being deleted (`podGracePeriodSeconds` for pods), null for kinds that
 * are deleted at once.
 */
export function planDeletion(
  object: JsonObject,
  options: DeleteOptions,
  input: { nowMs: number; gracePeriodSeconds: number | null },
): DeletionPlan {
  const meta: JsonObject = { ...asObject(object.metadata) };
  let graceful = false;
  let grace = 0;
  if (isDeleting(meta)) {
    const current = meta.deletionGracePeriodSeconds;
    if (typeof current === "number") {
      const requested = options.gracePeriodSeconds;
      // a deletion under way may only be hurried: a shorter grace moves the deadline earlier
      if (requested === undefined || requested >= current) return { kind: "pending" };
      const start = Date.parse(String(meta.deletionTimestamp)) - current * 1000;
      meta.deletionTimestamp = rfc3339(start + Math.max(requested, 0) * 1000);
      meta.deletionGracePeriodSeconds = Math.max(requested, 0);
      graceful = true;
      grace = Math.max(requested, 0);
    }
  } else if (input.gracePeriodSeconds !== null) {
    graceful = true;
    grace = input.gracePeriodSeconds;
    meta.deletionTimestamp = rfc3339(input.nowMs + grace * 1000);
    meta.deletionGracePeriodSeconds = grace;
    bumpGeneration(meta);
  }
  const finalizers = finalizersOf(meta);
  const changed = garbageCollectionFinalizers(finalizers, options);
  if (changed !== null) meta.finalizers = changed;
  const held = finalizersOf(meta).length > 0;
  if (!graceful) {
    if (!held) return { kind: "delete" };
    // markAsDeleting: a kind without graceful deletion waits for its finalizers from now on
    if (!isDeleting(meta)) {
      bumpGeneration(meta);
      meta.deletionTimestamp = rfc3339(input.nowMs);
    }
    meta.deletionGracePeriodSeconds = 0;
    return { kind: "update", object: { ...object, metadata: meta } };
  }
  if (held || grace > 0) return { kind: "update", object: { ...object, metadata: meta } };
  return { kind: "delete" };
}

/**
 * `shouldDeleteDuringUpdate`: an update that leaves a deleting object without finalizers
 * removes it — unless a grace period is still running (a pod whose kubelet is stopping it
 * deletes it itself, with grace 0, when its containers are gone).
 */
export function shouldDeleteDuringUpdate(next: JsonObject, old: JsonObject): boolean {
  if (finalizersOf(next.metadata).length > 0) return false;
  const oldMeta = asObject(old.metadata);
  if (!isDeleting(oldMeta)) return false;
  const grace = oldMeta.deletionGracePeriodSeconds;
  return grace === undefined || grace === null || grace === 0;
}

/** A namespace held by finalizers says so in its phase, as the namespace registry does. */
export function withTerminatingPhase(namespace: JsonObject): JsonObject {
  return { ...namespace, status: { ...asObject(namespace.status), phase: "Terminating" } };
}
