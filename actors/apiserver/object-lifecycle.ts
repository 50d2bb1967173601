/**
 * What the registry does to an object before it is stored (the generic registry's
 * BeforeCreate/BeforeUpdate with each kind's strategy): system metadata, defaults, status kept
 * apart from spec, generation on spec changes, validation. Pure: ids and time come in.
 */
import { applyDefaults } from "../api/defaults.ts";
import type { FieldError } from "../api/field-error.ts";
import {
  asObject,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  jsonClone,
  jsonEqual,
} from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { initializeObjectMeta } from "../api/object-meta.ts";
import { apiVersionOf, type ResourceInfo } from "../api/resources.ts";
import { dropTypeDependentFields } from "../api/service-allocation.ts";
import { badRequestStatus, invalidStatus } from "../api/status.ts";
import { validateCreate, validateUpdate } from "../api/validation.ts";
import { ApiError } from "../client/errors.ts";

/** Kinds whose `metadata.generation` counts spec changes (their controllers report observedGeneration). */
const TRACKS_GENERATION = new Set([
  "Deployment",
  "ReplicaSet",
  "PodDisruptionBudget",
  "Job",
  "CronJob",
]);

export function hasStatusSubresource(r: ResourceInfo): boolean {
  return r.subresources.some((s) => s.name === "status");
}

function invalid(r: ResourceInfo, name: string, errors: FieldError[]): ApiError {
  return new ApiError(invalidStatus({ group: r.group, kind: r.kind }, name, errors));
}

/** Checks and fills `apiVersion`/`kind` and the namespace from the URL. */
export function checkTypeAndNamespace(
  r: ResourceInfo,
  body: JsonObject,
  namespace: string | null,
): JsonObject {
  const apiVersion = apiVersionOf(r);
  if (body.kind !== undefined && body.kind !== r.kind)
    throw new ApiError(
      badRequestStatus(
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`,
      ),
    );
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion)
    throw new ApiError(
      badRequestStatus(
        `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`,
      ),
    );
  const meta = { ...asObject(body.metadata) };
  if (r.namespaced) {
    if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace)
      throw new ApiError(
        badRequestStatus(
          "the namespace of the provided object does not match the namespace sent on the request",
        ),
      );
    meta.namespace = namespace ?? "";
  } else delete meta.namespace;
  return { ...body, apiVersion, kind: r.kind, metadata: meta };
}

/**
 * A Secret's `stringData` is write-only: merged into `data` (base64) and dropped, as the core
 * v1 conversion does.
 */
export function foldSecretStringData(kind: string, obj: JsonObject): JsonObject {
  if (kind !== "Secret" || !isJsonObject(obj.stringData)) return obj;
  const data: JsonObject = { ...asObject(obj.data) };
  for (const [k, v] of Object.entries(obj.stringData))
    data[k] = Buffer.from(String(v), "utf8").toString("base64");
  const out: JsonObject = { ...obj, data };
  delete out.stringData;
  return out;
}

export interface CreateContext {
  uid: string;
  wallMs: number;
  generateNameSuffix: string;
}

/**
 * Statuses that each kind's strategy resets on create (PrepareForCreate): the client's is not
 * its to set. The empty Go struct serializes as `{}` (a Service's with its empty
 * `loadBalancer`), so the object carries a status from the start.
 */
const STATUS_ON_CREATE: Readonly<Record<string, JsonObject>> = {
  Deployment: {},
  ReplicaSet: {},
  Service: { loadBalancer: {} },
};

/**
 * The status a new object of a kind with a status starts with: reset where Kubernetes resets it
 * (Pods and Namespaces get their phase from defaulting), otherwise what the client sent — a
 * Node keeps the status its kubelet registers it with — or `{}`: clients dereference it.
 */
function statusOnCreate(kind: string, status: JsonValue | undefined): JsonObject {
  const reset = STATUS_ON_CREATE[kind];
  if (reset !== undefined) return jsonClone(reset);
  return isJsonObject(status) ? status : {};
}

export function prepareCreate(
  r: ResourceInfo,
  body: JsonObject,
  namespace: string | null,
  ctx: CreateContext,
): JsonObject {
  const typed = foldSecretStringData(r.kind, checkTypeAndNamespace(r, body, namespace));
  const metadata = initializeObjectMeta(typed.metadata, {
    uid: ctx.uid,
    creationTimestamp: rfc3339(ctx.wallMs),
    generateNameSuffix: ctx.generateNameSuffix,
    tracksGeneration: TRACKS_GENERATION.has(r.kind),
  });
  const obj = applyDefaults(r.kind, { ...typed, metadata });
  if (hasStatusSubresource(r)) obj.status = statusOnCreate(r.kind, obj.status);
  const errors = validateCreate(r.kind, obj);
  if (errors.length > 0) throw invalid(r, String(asObject(obj.metadata).name ?? ""), errors);
  return obj;
}

/**
 * The object an update stores: the caller's, with the system fields of `old` kept, status kept
 * from `old` on the main resource (and only status taken on `/status`), generation bumped when
 * the spec changed.
 */
export function prepareUpdate(
  r: ResourceInfo,
  body: JsonObject,
  old: JsonObject,
  namespace: string | null,
  subresource: string | null,
): JsonObject {
  const typed = foldSecretStringData(r.kind, checkTypeAndNamespace(r, body, namespace));
  const oldMeta = asObject(old.metadata);
  let next: JsonObject;
  if (subresource === "status") {
    next = { ...old, status: typed.status ?? {} };
  } else {
    next = { ...typed };
    const meta = { ...asObject(typed.metadata) };
    for (const k of ["uid", "creationTimestamp", "generation"]) {
      if (oldMeta[k] !== undefined) meta[k] = oldMeta[k];
      else delete meta[k];
    }
    // BeforeUpdate: an update never removes or moves a deletion mark; one that tries to set it
    // where there is none is left for validation to refuse (only a delete sets it)
    for (const k of ["deletionTimestamp", "deletionGracePeriodSeconds"])
      if (oldMeta[k] !== undefined) meta[k] = oldMeta[k];
    next.metadata = meta;
    next = applyDefaults(r.kind, next);
    if (r.kind === "Service") next = dropTypeDependentFields(next, old);
    // after defaulting, which resets a new Pod's status: the main resource never writes status
    if (hasStatusSubresource(r)) next.status = isJsonObject(old.status) ? old.status : {};
    if (
      TRACKS_GENERATION.has(r.kind) &&
      !jsonEqual(next.spec ?? null, old.spec ?? null) &&
      typeof oldMeta.generation === "number"
    )
      (next.metadata as JsonObject).generation = oldMeta.generation + 1;
  }
  const errors = validateUpdate(r.kind, next, old);
  if (errors.length > 0) throw invalid(r, String(oldMeta.name ?? ""), errors);
  return next;
}

/** Equal apart from resourceVersion: such an update writes nothing (Kubernetes skips it too). */
export function sameObject(a: JsonObject, b: JsonObject): boolean {
  const strip = (o: JsonObject) => {
    const m = isJsonObject(o.metadata) ? { ...o.metadata } : {};
    delete m.resourceVersion;
    return { ...o, metadata: m };
  };
  return jsonEqual(strip(a), strip(b));
}
