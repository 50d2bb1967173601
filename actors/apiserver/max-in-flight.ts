/**
 * Max requests in flight (kube-apiserver's `--max-requests-inflight` and
 * `--max-mutating-requests-inflight`), with a second set of seats for the system's own
 * components: API Priority and Fairness reduced to its two levels that matter here, `system`
 * (kubelets, controller manager, scheduler: the Lease renewals that keep nodes Ready and leaders
 * elected) and `workload` (everyone else). A flood of user requests fills the workload seats and
 * gets 429 with `Retry-After`; the system seats stay free.
 *
 * bosun's own components mostly speak the internal API over the mesh (internal-api.ts), which
 * never reaches this filter; the system level covers those that come over HTTPS with their own
 * identities. Long-running requests (watches, followed logs) take no seat, as in Kubernetes:
 * they would hold one for their whole life. Health checks take none either (APF's `probes`
 * flow schema is exempt), so an overloaded server still says it is alive.
 */
import type { ServerResponse } from "node:http";
import { tooManyRequestsStatus } from "../api/status.ts";
import { isWatchParam, type RequestVerb } from "./request-info.ts";
import { parseGoBool } from "./request-options.ts";

export type PriorityLevel = "system" | "workload";

export interface InFlightLimits {
  /**
   * Read-only requests served at once per priority level. 400: kube-apiserver's default for
   * `--max-requests-inflight`.
   */
  maxReadOnly: number;
  /** Mutating requests at once per priority level. 200: `--max-mutating-requests-inflight`. */
  maxMutating: number;
  /**
   * Seconds a refused client is told to wait (`Retry-After`). 1: kube-apiserver's value; client-go
   * honours it and retries.
   */
  retryAfterSeconds: number;
}

export const DEFAULT_IN_FLIGHT_LIMITS: Readonly<InFlightLimits> = Object.freeze({
  maxReadOnly: 400,
  maxMutating: 200,
  retryAfterSeconds: 1,
});

/** The users and groups of APF's `system-nodes`, `kube-controller-manager`, `kube-scheduler` schemas. */
const SYSTEM_USERS = new Set([
  "system:kube-controller-manager",
  "system:kube-scheduler",
  "system:cloud-controller-manager",
]);
const SYSTEM_GROUPS = new Set(["system:nodes", "system:serviceaccounts:kube-system"]);

export function priorityLevelOf(user: {
  username: string;
  groups: readonly string[];
}): PriorityLevel {
  return SYSTEM_USERS.has(user.username) || user.groups.some((g) => SYSTEM_GROUPS.has(g))
    ? "system"
    : "workload";
}

const READ_ONLY_VERBS = new Set(["get", "list", "watch"]);

/** Non-resource requests are read-only unless they write (kube-apiserver checks the verb). */
export function isMutating(verb: RequestVerb | null, method: string): boolean {
  if (verb !== null) return !READ_ONLY_VERBS.has(verb);
  return !(method === "GET" || method === "HEAD" || method === "OPTIONS");
}

const HEALTH_PATHS = /^\/(healthz|livez|readyz)(\/|$)/;

/** Watches and followed logs: their responses last as long as the client wants. */
export function isLongRunning(
  path: string,
  verb: RequestVerb | null,
  query: URLSearchParams,
): boolean {
  if (verb === "watch") return true;
  if (verb !== "get") return false;
  if (isWatchParam(query.get("watch"))) return true;
  return path.endsWith("/log") && parseGoBool(query.get("follow") ?? "") === true;
}

/** Requests that take no seat: health checks and long-running requests. */
export function takesNoSeat(
  path: string,
  verb: RequestVerb | null,
  query: URLSearchParams,
): boolean {
  return HEALTH_PATHS.test(path) || isLongRunning(path, verb, query);
}

type Seats = Record<PriorityLevel, { readOnly: number; mutating: number }>;

/** The seat counters; pure bookkeeping, so the limits are tested without a server. */
export class MaxInFlight {
  private readonly inUse: Seats = {
    system: { readOnly: 0, mutating: 0 },
    workload: { readOnly: 0, mutating: 0 },
  };

  constructor(readonly limits: InFlightLimits = DEFAULT_IN_FLIGHT_LIMITS) {}

  /** A seat, released by calling the function returned (once); null when the level is full. */
  tryAcquire(level: PriorityLevel, mutating: boolean): (() => void) | null {
    const seats = this.inUse[level];
    const kind = mutating ? "mutating" : "readOnly";
    const max = mutating ? this.limits.maxMutating : this.limits.maxReadOnly;
    if (seats[kind] >= max) return null;
    seats[kind]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      seats[kind]--;
    };
  }

  inFlight(level: PriorityLevel, mutating: boolean): number {
    return this.inUse[level][mutating ? "mutating" : "readOnly"];
  }
}

/**
 * The filter: a seat for the request until its response closes, or a 429 with `Retry-After`
 * (false: the request was answered and must go no further).
 */
export function admitRequest(
  limiter: MaxInFlight,
  res: ServerResponse,
  request: {
    user: { username: string; groups: readonly string[] };
    verb: RequestVerb | null;
    method: string;
    path: string;
    query: URLSearchParams;
  },
): boolean {
  if (takesNoSeat(request.path, request.verb, request.query)) return true;
  const release = limiter.tryAcquire(
    priorityLevelOf(request.user),
    isMutating(request.verb, request.method),
  );
  if (release !== null) {
    res.once("close", release);
    return true;
  }
  const seconds = limiter.limits.retryAfterSeconds;
  const status = tooManyRequestsStatus("Too many requests, please try again later.", seconds);
  const text = JSON.stringify(status);
  res.writeHead(429, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "retry-after": String(seconds),
  });
  res.end(text);
  return false;
}
