/**
 * metav1.DeleteOptions as a DELETE (or deletecollection) carries them: the JSON body kubectl
 * sends (`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}`), or, when
 * there is no body, the query (`propagationPolicy`, `gracePeriodSeconds`, `orphanDependents`,
 * `dryRun`) — the handler of k8s.io/apiserver reads one or the other, never both. Validated as
 * `ValidateDeleteOptions` does: an unknown policy, or a policy together with the deprecated
 * `orphanDependents`, is 422 Invalid; a value of the wrong type is 400.
 */

import { PROPAGATION_POLICIES, type PropagationPolicy } from "../api/api-protocol.ts";
import { type FieldError, invalid, notSupported } from "../api/field-error.ts";
import { asObject, isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { badRequestStatus, invalidStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import type { RequestOptions } from "./request-options.ts";

export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

export interface DeleteOptions {
  /** Absent: the object's own (a pod's terminationGracePeriodSeconds). */
  gracePeriodSeconds?: number;
  preconditions: DeletePreconditions;
  propagationPolicy?: PropagationPolicy;
  /** Deprecated: true means Orphan, false means "not Orphan" (and a 202 when not yet gone). */
  orphanDependents?: boolean;
  dryRun: boolean;
}

const DELETE_OPTIONS_KIND = { group: "meta.k8s.io", kind: "DeleteOptions" };

function typeError(field: string, value: JsonValue | undefined, type: string): ApiError {
  return new ApiError(
    badRequestStatus(
      `DeleteOptions.${field}: expected ${type}, got ${JSON.stringify(value ?? null)}`,
    ),
  );
}

/** The fields as JSON values: from the body, or strings from the query. */
interface RawOptions {
  gracePeriodSeconds?: JsonValue;
  preconditions?: JsonValue;
  propagationPolicy?: JsonValue;
  orphanDependents?: JsonValue;
  dryRun?: JsonValue;
}

function fromBody(body: JsonObject): RawOptions {
  if (body.kind !== undefined && body.kind !== "DeleteOptions")
    throw new ApiError(
      badRequestStatus(
        `decoded object cannot be converted to DeleteOptions: the body is a ${String(body.kind)}`,
      ),
    );
  return body;
}

/** The query's options (typed by request-options.ts) as the fields of a DeleteOptions body. */
function fromQuery(query: RequestOptions): RawOptions {
  const raw: RawOptions = {};
  if (query.gracePeriodSeconds !== undefined) raw.gracePeriodSeconds = query.gracePeriodSeconds;
  if (query.propagationPolicy !== undefined) raw.propagationPolicy = query.propagationPolicy;
  if (query.orphanDependents !== undefined) raw.orphanDependents = query.orphanDependents;
  if (query.dryRun !== undefined) raw.dryRun = query.dryRun;
  return raw;
}

function optionalString(object: JsonObject, field: string, path: string): string | undefined {
  const v = object[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw typeError(`${path}.${field}`, v, "a string");
  return v;
}

export function parseDeleteOptions(body: JsonValue | null, query: RequestOptions): DeleteOptions {
  if (body !== null && !isJsonObject(body))
    throw new ApiError(badRequestStatus("the body of a delete must be a DeleteOptions object"));
  const raw = body !== null ? fromBody(body) : fromQuery(query);
  const options: DeleteOptions = { preconditions: {}, dryRun: false };

  const grace = raw.gracePeriodSeconds;
  if (grace !== undefined && grace !== null) {
    if (typeof grace !== "number" || !Number.isInteger(grace))
      throw typeError("gracePeriodSeconds", grace, "an integer");
    options.gracePeriodSeconds = grace;
  }
  if (raw.preconditions !== undefined && raw.preconditions !== null) {
    if (!isJsonObject(raw.preconditions))
      throw typeError("preconditions", raw.preconditions, "an object");
    const uid = optionalString(raw.preconditions, "uid", "preconditions");
    const rv = optionalString(raw.preconditions, "resourceVersion", "preconditions");
    if (uid !== undefined) options.preconditions.uid = uid;
    if (rv !== undefined) options.preconditions.resourceVersion = rv;
  }
  const orphan = raw.orphanDependents;
  if (orphan !== undefined && orphan !== null) {
    if (typeof orphan !== "boolean") throw typeError("orphanDependents", orphan, "a boolean");
    options.orphanDependents = orphan;
  }
  const dryRun = raw.dryRun ?? [];
  if (!Array.isArray(dryRun)) throw typeError("dryRun", dryRun, "a list of strings");

  const errors: FieldError[] = [];
  const policy = raw.propagationPolicy;
  if (policy !== undefined && policy !== null) {
    if (typeof policy !== "string") throw typeError("propagationPolicy", policy, "a string");
    if (options.orphanDependents !== undefined)
      errors.push(
        invalid(
          "propagationPolicy",
          policy,
          "orphanDependents and deletionPropagation cannot be both set",
        ),
      );
    if ((PROPAGATION_POLICIES as readonly string[]).includes(policy))
      options.propagationPolicy = policy as PropagationPolicy;
    else errors.push(notSupported("propagationPolicy", policy, [...PROPAGATION_POLICIES, "nil"]));
  }
  if (dryRun.some((v) => v !== "All")) errors.push(notSupported("dryRun", dryRun, ["All"]));
  if (errors.length > 0) throw new ApiError(invalidStatus(DELETE_OPTIONS_KIND, "", errors));
  options.dryRun = dryRun.length > 0;
  return options;
}

/** 409 when the object is not the one the caller meant (`Preconditions` of DeleteOptions). */
export function preconditionFailure(
  object: JsonObject,
  preconditions: DeletePreconditions,
): string | null {
  const meta = asObject(object.metadata);
  if (preconditions.uid !== undefined && preconditions.uid !== meta.uid)
    return `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${String(meta.uid ?? "")}`;
  if (
    preconditions.resourceVersion !== undefined &&
    preconditions.resourceVersion !== meta.resourceVersion
  )
    return `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${String(meta.resourceVersion ?? "")}`;
  return null;
}
