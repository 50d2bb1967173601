/**
 * The garbage collector (kube-controller-manager's `garbagecollector`), background propagation:
 * a dependent whose every ownerReference names an owner that no longer exists (404, or a new
 * object with the same name but another uid) is deleted. One controller per dependent resource;
 * an owner's deletion is mapped to the dependents in the cache that name its uid.
 *
 * Absence is confirmed with a linearizable GET, never from a cache alone: an informer that lags
 * must not make the collector delete a live object's dependents.
 *
 * Not yet: foreground deletion (the `foregroundDeletion` finalizer) and orphaning — the API
 * server does not yet honour `propagationPolicy`.
 */
import { resourceByKind } from "../api/resources.ts";
import { ApiError } from "../apiserver/api-error.ts";
import type { ControllerContext, ControllerDefinition, ObjectKey } from "./controller.ts";
import { keyOf } from "./controller.ts";
import {
  isBeingDeleted,
  nameOf,
  type OwnerReference,
  ownerReferencesOf,
  uidOf,
} from "./owner-references.ts";

/** Dependent resources the collector follows, and the owner resources whose deletions matter. */
export const GC_DEPENDENTS = ["pods", "replicasets.apps"];
export const GC_OWNERS = ["replicasets.apps", "deployments.apps"];

/** `replicasets.apps` for `{apiVersion: "apps/v1", kind: "ReplicaSet"}`. */
export function ownerResource(ref: OwnerReference): string | undefined {
  const slash = ref.apiVersion.indexOf("/");
  const group = slash < 0 ? "" : ref.apiVersion.slice(0, slash);
  const r = resourceByKind(ref.kind, group);
  if (!r) return undefined;
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

export function garbageCollector(ctx: ControllerContext, dependents: string): ControllerDefinition {
  const { api, cache } = ctx;

  async function ownerExists(ref: OwnerReference, namespace: string): Promise<boolean> {
    const resource = ownerResource(ref);
    if (!resource) return true; // an owner kind we do not know: leave the dependent alone
    const cached = cache.get(resource, { namespace, name: ref.name });
    if (cached && uidOf(cached) === ref.uid) return true;
    try {
      const live = await api.get(resource, ref.name, { namespace });
      return uidOf(live) === ref.uid;
    } catch (error) {
      if (error instanceof ApiError && error.status.code === 404) return false;
      throw error;
    }
  }

  async function reconcile(key: ObjectKey) {
    const dependent = cache.get(dependents, key);
    if (!dependent || isBeingDeleted(dependent)) return undefined;
    const refs = ownerReferencesOf(dependent);
    if (refs.length === 0) return undefined;
    for (const ref of refs) if (await ownerExists(ref, key.namespace)) return undefined;
    try {
      await api.delete(dependents, nameOf(dependent), {
        namespace: key.namespace,
        preconditions: { uid: uidOf(dependent) },
      });
    } catch (error) {
      if (!(error instanceof ApiError && (error.status.code === 404 || error.status.code === 409)))
        throw error;
    }
    return undefined;
  }

  return {
    name: `garbage-collector:${dependents}`,
    primary: dependents,
    watches: GC_OWNERS.filter((o) => o !== dependents).map((owner) => ({
      resource: owner,
      map: (object, event) => {
        if (event !== "delete") return [];
        const uid = uidOf(object);
        return cache
          .list(dependents)
          .filter((d) => ownerReferencesOf(d).some((r) => r.uid === uid))
          .map(keyOf);
      },
    })),
    reconcile,
  };
}
