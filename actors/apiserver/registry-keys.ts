/**
 * Where objects live in the store, as the Kubernetes API server lays them out in etcd:
 * `/registry/<group>/<resource>/<namespace>/<name>` (`core` for the core group), cluster-scoped
 * objects without the namespace. A collection is a key prefix; names never contain `/`.
 */
import type { ResourceInfo } from "../api/resources.ts";

export const REGISTRY_PREFIX = "/registry/";

function groupSegment(r: Pick<ResourceInfo, "group">): string {
  return r.group === "" ? "core" : r.group;
}

export function objectKey(
  r: Pick<ResourceInfo, "group" | "plural" | "namespaced">,
  namespace: string | null,
  name: string,
): string {
  const base = `${REGISTRY_PREFIX}${groupSegment(r)}/${r.plural}/`;
  return r.namespaced ? `${base}${namespace ?? ""}/${name}` : `${base}${name}`;
}

/** The prefix of a collection: every object of the resource, or those of one namespace. */
export function collectionPrefix(
  r: Pick<ResourceInfo, "group" | "plural" | "namespaced">,
  namespace: string | null,
): string {
  const base = `${REGISTRY_PREFIX}${groupSegment(r)}/${r.plural}/`;
  return r.namespaced && namespace !== null ? `${base}${namespace}/` : base;
}

/**
 * The list continue token, shaped like Kubernetes' (`{"v":"meta.k8s.io/v1","rv":N,"start":K}`
 * in base64): the revision the first page was read at and the key to resume from, relative to
 * the collection prefix so that a token cannot reach outside it.
 */
export interface ContinueToken {
  rv: number;
  start: string;
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(
    JSON.stringify({ v: "meta.k8s.io/v1", rv: token.rv, start: token.start }),
  ).toString("base64url");
}

export class ContinueTokenError extends Error {}

export function decodeContinue(text: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new ContinueTokenError("continue key is not valid: not base64 JSON");
  }
  const t = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (t.v !== "meta.k8s.io/v1")
    throw new ContinueTokenError(
      "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
    );
  if (typeof t.rv !== "number" || !Number.isInteger(t.rv) || t.rv < 1)
    throw new ContinueTokenError(
      "continue key is not valid: incorrect encoded start resourceVersion",
    );
  if (typeof t.start !== "string" || t.start.includes(".."))
    throw new ContinueTokenError("continue key is not valid: incorrect encoded start key");
  return { rv: t.rv, start: t.start };
}

/**
 * Where the values Services hold are recorded, one key per value holding its Service's uid
 * (kube-apiserver keeps one bitmap per range at `/registry/ranges/serviceips` and
 * `servicenodeports`; a key per value lets API servers without a leader claim values in the
 * Service's own txn, guarded by the key's absence). No resource lists under `/registry/ranges/`,
 * so the API never shows them.
 */
export const SERVICE_IP_KEYS_PREFIX = `${REGISTRY_PREFIX}ranges/serviceips/`;
export const NODE_PORT_KEYS_PREFIX = `${REGISTRY_PREFIX}ranges/servicenodeports/`;
