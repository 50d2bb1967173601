/**
 * API errors as clients see them (apimachinery's `api/errors`): a request that ends in a
 * Kubernetes `Status` throws an `ApiError`, and callers ask what it means with the predicates
 * below rather than comparing codes inline. Like apimachinery, AlreadyExists and Conflict are
 * told apart by the Status reason although both are 409.
 */
import type { Status } from "../api/status.ts";

/** A request that ends in a Kubernetes `Status` error; the server writes it with its code. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? "error");
    this.name = "ApiError";
  }
}

function statusOf(error: unknown): Status | null {
  return error instanceof ApiError ? error.status : null;
}

/** 404: the object (or its namespace) does not exist. */
export function isNotFound(error: unknown): boolean {
  return statusOf(error)?.code === 404;
}

/** 409 AlreadyExists: a create found an object of that name. */
export function isAlreadyExists(error: unknown): boolean {
  const status = statusOf(error);
  return status?.code === 409 && status.reason === "AlreadyExists";
}

/** 409 Conflict: a stale resourceVersion or a failed precondition; read again and retry. */
export function isConflict(error: unknown): boolean {
  const status = statusOf(error);
  return status?.code === 409 && status.reason !== "AlreadyExists";
}

/** 410: the resourceVersion asked for was compacted away; list again. */
export function isGone(error: unknown): boolean {
  return statusOf(error)?.code === 410;
}

/** 422: the object failed validation. */
export function isInvalid(error: unknown): boolean {
  return statusOf(error)?.code === 422;
}
