/**
 * Which resource and verb a request is for (Kubernetes' RequestInfoFactory): `/api/v1/...` is
 * the core group, `/apis/<group>/<version>/...` the others; `namespaces/<ns>/` scopes the rest,
 * except a namespace's own `status` and `finalize` subresources.
 */
import { RESOURCES, type ResourceInfo } from "../api/resources.ts";
import { parseGoBool } from "./request-options.ts";

export type RequestVerb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "delete"
  | "deletecollection";

export interface ResourceRequest {
  resource: ResourceInfo;
  /** The namespace from the path (null for cluster-scoped or all-namespaces requests). */
  namespace: string | null;
  name: string | null;
  subresource: string | null;
  verb: RequestVerb;
}

export type RequestInfo =
  | { type: "resource"; request: ResourceRequest }
  | { type: "unknownResource"; group: string; version: string; resource: string }
  | { type: "nonResource" };

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

function verbOf(method: string, hasName: boolean, watch: boolean): RequestVerb | null {
  switch (method) {
    case "GET":
    case "HEAD":
      return hasName ? "get" : watch ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return hasName ? "delete" : "deletecollection";
    default:
      return null;
  }
}

/**
 * Whether `?watch=` makes a collection GET a watch, as RequestInfoFactory decides it: a value
 * that does not parse counts as a watch unless it reads false or 0, and the watch then refuses
 * it with a 400 when its options are parsed (request-options.ts).
 */
export function isWatchParam(value: string | null): boolean {
  if (value === null) return false;
  const parsed = parseGoBool(value);
  if (parsed !== null) return parsed;
  const lower = value.toLowerCase();
  return lower !== "false" && lower !== "0";
}

export function parseRequestInfo(
  method: string,
  pathname: string,
  query: URLSearchParams,
): RequestInfo {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 3) {
    group = "";
    version = parts[1] as string;
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    group = parts[1] as string;
    version = parts[2] as string;
    rest = parts.slice(3);
  } else {
    return { type: "nonResource" };
  }
  let namespace: string | null = null;
  if (rest[0] === "namespaces" && rest.length >= 2) {
    namespace = rest[1] as string;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2] as string)) rest = rest.slice(2);
  }
  const [plural = "", name = null, subresource = null, ...extra] = rest;
  const resource = RESOURCES.find(
    (r) => r.group === group && r.version === version && r.plural === plural,
  );
  if (resource === undefined || extra.length > 0) {
    return { type: "unknownResource", group, version, resource: plural };
  }
  if (resource.plural === "namespaces") namespace = null;
  const verb = verbOf(method, name !== null, isWatchParam(query.get("watch")));
  if (verb === null) return { type: "unknownResource", group, version, resource: plural };
  return {
    type: "resource",
    request: {
      resource,
      namespace: resource.namespaced ? namespace : null,
      name,
      subresource,
      verb,
    },
  };
}
