/**
 * An object's key (client-go's `cache.MetaNamespaceKeyFunc`): `namespace/name`, or `name` for
 * cluster-scoped objects. Informer caches, work queues and controllers all speak it.
 */
import { asObject, type JsonObject } from "../api/json.ts";
import type { InformerCache } from "./informer-cache.ts";

export interface ObjectKey {
  /** "" for cluster-scoped objects. */
  namespace: string;
  name: string;
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
