/**
 * `metav1.Status` failure objects, built as apimachinery `pkg/api/errors/errors.go` builds them,
 * with the JSON member order Go's encoder produces (kind, apiVersion, metadata, status,
 * message, reason, details, code) and empty members omitted.
 */
import { aggregateText, type FieldError, fieldErrorBody } from "./field-error.ts";

export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "RequestEntityTooLarge"
  | "Gone"
  | "Expired"
  | "MethodNotAllowed"
  | "InternalError"
  | "Timeout"
  | "TooManyRequests"
  | "ServiceUnavailable"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  /** remotecommand's: an exec'd command exited non-zero (the code is a cause `ExitCode`). */
  | "NonZeroExitCode";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** Group and resource (plural) as the errors print them: `pods`, `deployments.apps`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** Group and kind for Invalid: `Pod`, `Deployment.apps`. */
export interface GroupKind {
  group: string;
  kind: string;
}

const grString = (gr: GroupResource) =>
  gr.group === "" ? gr.resource : `${gr.resource}.${gr.group}`;
const gkString = (gk: GroupKind) => (gk.group === "" ? gk.kind : `${gk.kind}.${gk.group}`);
const quote = (s: string) => JSON.stringify(s);

function details(d: StatusDetails): StatusDetails | undefined {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes && d.causes.length > 0) out.causes = d.causes;
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return Object.keys(out).length > 0 ? out : undefined;
}

function failure(code: number, reason: StatusReason, message: string, d?: StatusDetails): Status {
  const det = d ? details(d) : undefined;
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(det ? { details: det } : {}),
    code,
  };
}

/** 404 `pods "x" not found`. */
export function notFoundStatus(gr: GroupResource, name: string): Status {
  return failure(404, "NotFound", `${grString(gr)} ${quote(name)} not found`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

/** 409 `pods "x" already exists`. */
export function alreadyExistsStatus(gr: GroupResource, name: string): Status {
  return failure(409, "AlreadyExists", `${grString(gr)} ${quote(name)} already exists`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

/** The reason text the registry gives for a stale resourceVersion on update. */
export const OPTIMISTIC_LOCK_ERROR_MSG =
  "the object has been modified; please apply your changes to the latest version and try again";

/** 409 `Operation cannot be fulfilled on pods "x": <reason>`. */
export function conflictStatus(
  gr: GroupResource,
  name: string,
  reason = OPTIMISTIC_LOCK_ERROR_MSG,
): Status {
  return failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${grString(gr)} ${quote(name)}: ${reason}`,
    {
      name,
      group: gr.group,
      kind: gr.resource,
    },
  );
}

/** 422 `Pod "x" is invalid: spec.containers[0].image: Required value`, causes per field error. */
export function invalidStatus(gk: GroupKind, name: string, errors: readonly FieldError[]): Status {
  const causes: StatusCause[] = errors.map((e) => ({
    reason: e.type,
    message: fieldErrorBody(e),
    field: e.field,
  }));
  return failure(
    422,
    "Invalid",
    `${gkString(gk)} ${quote(name)} is invalid: ${aggregateText(errors)}`,
    {
      name,
      group: gk.group,
      kind: gk.kind,
      causes,
    },
  );
}

export function badRequestStatus(message: string): Status {
  return failure(400, "BadRequest", message);
}

export function unauthorizedStatus(message = ""): Status {
  return failure(401, "Unauthorized", message === "" ? "not authorized" : message);
}

/** 403 `pods "x" is forbidden: <reason>`. */
export function forbiddenStatus(gr: GroupResource, name: string, reason: string): Status {
  return failure(403, "Forbidden", `${grString(gr)} ${quote(name)} is forbidden: ${reason}`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

/** 403 from an authorizer: `pods "web" is forbidden: User "alice" cannot get …` (no name: `pods is forbidden`). */
export function forbiddenRequestStatus(gr: GroupResource, name: string, reason: string): Status {
  const what = name === "" ? grString(gr) : `${grString(gr)} ${quote(name)}`;
  return failure(403, "Forbidden", `${what} is forbidden: ${reason}`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

export function requestEntityTooLargeStatus(message: string): Status {
  return failure(413, "RequestEntityTooLarge", `Request entity too large: ${message}`);
}

/** 410 for a watch or list from a compacted resourceVersion. */
export function goneStatus(message = "too old resource version"): Status {
  return failure(410, "Gone", message);
}

/** 410 Expired: a list continue token past compaction. */
export function resourceExpiredStatus(message: string): Status {
  return failure(410, "Expired", message);
}

/** 405 `<verb> is not supported on resources of kind "pods"`. */
export function methodNotAllowedStatus(gr: GroupResource, action: string): Status {
  return failure(
    405,
    "MethodNotAllowed",
    `${action} is not supported on resources of kind ${quote(grString(gr))}`,
    {
      group: gr.group,
      kind: gr.resource,
    },
  );
}

/**
 * 404 for a path the server does not serve — an unknown resource or subresource — in
 * kube-apiserver's words (what kubectl prints for it too).
 */
export function resourceNotServedStatus(): Status {
  return failure(404, "NotFound", "the server could not find the requested resource");
}

/**
 * 405 for a Kubernetes subresource this server does not serve yet (`pods/exec`): said plainly,
 * not as a missing object.
 */
export function subresourceNotServedStatus(gr: GroupResource, subresource: string): Status {
  return failure(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource: ${grString(gr)}/${subresource} is not served by this server yet`,
    { group: gr.group, kind: gr.resource },
  );
}

/**
 * How an exec'd command ended, as the kubelet's remotecommand reports it on the error channel:
 * Success, or NonZeroExitCode with the code as a cause of reason `ExitCode` (kubectl exits
 * with it).
 */
export function execExitStatus(exitCode: number): Status {
  if (exitCode === 0)
    return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 200 };
  return failure(
    500,
    "NonZeroExitCode",
    `command terminated with non-zero exit code: exit status ${exitCode}`,
    { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  );
}

/** 500 `Internal error occurred: <err>`. */
export function internalErrorStatus(message: string): Status {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });
}

/** 504 `Timeout: <message>`. */
export function timeoutStatus(message: string, retryAfterSeconds = 0): Status {
  return failure(504, "Timeout", `Timeout: ${message}`, { retryAfterSeconds });
}

export function tooManyRequestsStatus(message: string, retryAfterSeconds = 0): Status {
  return failure(429, "TooManyRequests", message, { retryAfterSeconds });
}

export function serviceUnavailableStatus(message: string): Status {
  return failure(503, "ServiceUnavailable", message);
}

/**
 * `NewGenericServerResponse(422, ...)` as used for a JSON patch that does not apply: a fixed
 * message, the server's text only in the (absent) causes. kubectl shows "The request is
 * invalid: the server rejected our request due to an error in our request".
 */
export function unprocessablePatchStatus(): Status {
  return failure(422, "Invalid", "the server rejected our request due to an error in our request");
}

/** `metav1.Status` success, returned for deletes of collections and some subresources. */
export function successStatus(d?: StatusDetails): Status {
  const det = d ? details(d) : undefined;
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    ...(det ? { details: det } : {}),
    code: 200,
  };
}
