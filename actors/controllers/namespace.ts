/**
 * The namespace controller: a namespace with a deletionTimestamp has everything in it deleted,
 * then its `kubernetes` finalizer removed (spec.finalizers, and metadata.finalizers if set
 * there), so that the API server can let it go. Until the namespace is empty it looks again.
 *
 * (bosun's API server deletes a finalizer-less namespace together with its contents in one
 * transaction; this controller is for namespaces held by a finalizer, as in Kubernetes.)
 */

import { asArray, asObject, type JsonObject } from "../api/json.ts";
import { RESOURCES } from "../api/resources.ts";
import { isNotFound } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { isBeingDeleted, nameOf } from "./owner-references.ts";

export const NAMESPACE_FINALIZER = "kubernetes";
/** While a terminating namespace still has contents, look again after this. */
export const NAMESPACE_RECHECK_MS = 200;

export function namespacedResources(): string[] {
  return RESOURCES.filter((r) => r.namespaced && r.verbs.includes("delete")).map((r) =>
    r.group === "" ? r.plural : `${r.plural}.${r.group}`,
  );
}

function withoutFinalizer(ns: JsonObject): JsonObject {
  const drop = (v: unknown) => asArray(v as never).filter((f) => f !== NAMESPACE_FINALIZER);
  const meta = asObject(ns.metadata);
  return {
    ...ns,
    metadata: { ...meta, finalizers: drop(meta.finalizers) },
    spec: { ...asObject(ns.spec), finalizers: drop(asObject(ns.spec).finalizers) },
  };
}

export function namespaceController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache } = ctx;

  async function reconcile(key: ObjectKey) {
    const ns = cache.get("namespaces", key);
    if (!ns || !isBeingDeleted(ns)) return undefined;
    const name = nameOf(ns);
    let remaining = 0;
    for (const resource of namespacedResources()) {
      const list = await api.list({ resource, namespace: name });
      for (const item of list.items) {
        remaining++;
        try {
          await api.delete(resource, nameOf(item), { namespace: name });
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
    }
    if (remaining > 0) return { requeueAfterMs: NAMESPACE_RECHECK_MS };
    const meta = asObject(ns.metadata);
    const held =
      asArray(meta.finalizers).includes(NAMESPACE_FINALIZER) ||
      asArray(asObject(ns.spec).finalizers).includes(NAMESPACE_FINALIZER);
    if (held) {
      try {
        await api.update("namespaces", withoutFinalizer(ns));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return undefined;
  }

  return { name: "namespace", primary: "namespaces", reconcile };
}
