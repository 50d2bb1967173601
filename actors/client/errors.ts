import type { Status } from "../api/status.ts";

/** A request that ends in a Kubernetes `Status` error; the server writes it with its code. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? "error");
    this.name = "ApiError";
  }
}
