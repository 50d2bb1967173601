/**
 * The pure half of the Deployment controller (kube-controller-manager's
 * `pkg/controller/deployment`): the pod-template-hash, intOrString resolution, how far a
 * RollingUpdate may scale the new ReplicaSet up and the old ones down, and the status that
 * `kubectl rollout status` reads. No I/O, no clock: times come in.
 */

import { asObject, isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { GENERATE_NAME_ALPHABET } from "../api/object-meta.ts";
import { POD_TEMPLATE_HASH_LABEL } from "../api/well-known.ts";
import { nameOf } from "./owner-references.ts";
import { specReplicas } from "./replicaset.ts";

export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

/**
 * JSON with sorted keys and without nulls, empty objects or empty arrays: Kubernetes compares
 * templates as Go structs, where `creationTimestamp: null` or `resources: {}` (which kubectl
 * writes back on `rollout undo`) are the same as absent.
 */
function stableJson(v: JsonValue | undefined): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (isJsonObject(v))
    return `{${Object.keys(v)
      .filter((k) => !isEmptyValue(v[k]))
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v ?? null);
}

function isEmptyValue(v: JsonValue | undefined): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isJsonObject(v)) return Object.keys(v).every((k) => isEmptyValue(v[k]));
  return false;
}

/** A template as compared and hashed: the pod-template-hash label left out. */
function canonicalTemplate(template: JsonValue | undefined): string {
  const t = isJsonObject(template) ? template : {};
  const meta = { ...asObject(t.metadata) };
  const labels = { ...asObject(meta.labels) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  meta.labels = labels;
  return stableJson({ ...t, metadata: meta });
}

/** `EqualIgnoreHash`: do a ReplicaSet's template and a Deployment's say the same pod? */
export function sameTemplate(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  return canonicalTemplate(a) === canonicalTemplate(b);
}

/** FNV-1a, 32 bits (hash/fnv's New32a, which ComputeHash uses). */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * `controller.ComputeHash`: FNV-32a of the template (plus the collision count), its decimal
 * digits mapped through `rand.SafeEncodeString`'s alphabet (no vowels, no look-alikes).
 */
export function podTemplateHash(template: JsonValue | undefined, collisionCount = 0): string {
  const digits = String(fnv32a(canonicalTemplate(template) + (collisionCount || "")));
  let out = "";
  for (const c of digits)
    out += GENERATE_NAME_ALPHABET[c.charCodeAt(0) % GENERATE_NAME_ALPHABET.length];
  return out;
}

/**
 * `intstr.GetScaledValueFromIntOrPercent`: an int, or "N%" of `total` rounded up (maxSurge) or
 * down (maxUnavailable).
 */
export function resolveIntOrPercent(
  value: JsonValue | undefined,
  total: number,
  roundUp: boolean,
): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const m = /^(\d+)%$/.exec(value);
    if (m) {
      const scaled = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
    }
    if (/^\d+$/.test(value)) return Number(value);
  }
  return 0;
}

/** `deploymentutil.ResolveFenceposts`: maxSurge and maxUnavailable, never both 0. */
export function resolveFenceposts(d: JsonObject): { maxSurge: number; maxUnavailable: number } {
  const replicas = specReplicas(d);
  const strategy = asObject(asObject(d.spec).strategy);
  if (strategy.type === "Recreate") return { maxSurge: 0, maxUnavailable: replicas };
  const ru = asObject(strategy.rollingUpdate);
  const maxSurge = resolveIntOrPercent(ru.maxSurge ?? "25%", replicas, true);
  let maxUnavailable = resolveIntOrPercent(ru.maxUnavailable ?? "25%", replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}

export function revisionOf(o: JsonObject): number {
  const v = Number(asObject(asObject(o.metadata).annotations)[REVISION_ANNOTATION] ?? 0);
  return Number.isFinite(v) ? v : 0;
}

const statusNumber = (rs: JsonObject, field: string): number => {
  const v = asObject(rs.status)[field];
  return typeof v === "number" ? v : 0;
};

/**
 * Available pods a ReplicaSet can be counted on for: its status, but never more than its
 * `spec.replicas`. Right after a scale-down the status still counts the pods about to go, and
 * counting them would let the next step take the rollout below `replicas - maxUnavailable`.
 */
const countedAvailable = (rs: JsonObject): number =>
  Math.min(statusNumber(rs, "availableReplicas"), specReplicas(rs));

/** Sum of `spec.replicas` over ReplicaSets. */
export function specTotal(rss: readonly JsonObject[]): number {
  return rss.reduce((n, rs) => n + specReplicas(rs), 0);
}

/**
 * `NewRSNewReplicas` for RollingUpdate: grow the new ReplicaSet as far as maxSurge allows (all
 * pods of every ReplicaSet ≤ replicas + maxSurge), never past `replicas`; shrink it straight
 * to `replicas` when the Deployment was scaled down.
 */
export function rollingNewReplicas(
  d: JsonObject,
  newRS: JsonObject,
  all: readonly JsonObject[],
): number {
  const replicas = specReplicas(d);
  const current = specReplicas(newRS);
  if (current >= replicas) return replicas;
  const { maxSurge } = resolveFenceposts(d);
  const room = replicas + maxSurge - specTotal(all);
  if (room <= 0) return current;
  return Math.min(current + room, replicas);
}

/**
 * `reconcileOldReplicaSets` for RollingUpdate: the new `spec.replicas` of each old ReplicaSet
 * (only those that change). First the old ReplicaSets' unavailable pods go (they count for
 * nothing), then available ones, as long as `replicas - maxUnavailable` pods stay available.
 */
export function rollingOldReplicas(
  d: JsonObject,
  newRS: JsonObject,
  old: readonly JsonObject[],
): Map<string, number> {
  const replicas = specReplicas(d);
  const { maxUnavailable } = resolveFenceposts(d);
  const all = [newRS, ...old];
  const minAvailable = replicas - maxUnavailable;
  const newUnavailable = Math.max(0, specReplicas(newRS) - countedAvailable(newRS));
  const next = new Map(old.map((rs) => [nameOf(rs), specReplicas(rs)]));
  const oldestFirst = [...old].sort((a, b) => revisionOf(a) - revisionOf(b));
  // what may go at all: pods beyond minAvailable, not counting the new ones still coming up
  const maxScaledDown = specTotal(all) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return new Map();

  // step 1: unhealthy old pods
  let cleanup = maxScaledDown;
  for (const rs of oldestFirst) {
    if (cleanup <= 0) break;
    const n = next.get(nameOf(rs)) ?? 0;
    const unhealthy = Math.max(0, n - countedAvailable(rs));
    const cut = Math.min(unhealthy, cleanup);
    next.set(nameOf(rs), n - cut);
    cleanup -= cut;
  }
  // step 2: available old pods, keeping minAvailable
  const available = all.reduce((n, rs) => n + countedAvailable(rs), 0);
  let scaleDown = Math.min(available - minAvailable, cleanup);
  for (const rs of oldestFirst) {
    if (scaleDown <= 0) break;
    const n = next.get(nameOf(rs)) ?? 0;
    const cut = Math.min(n, scaleDown);
    next.set(nameOf(rs), n - cut);
    scaleDown -= cut;
  }
  for (const rs of old) if (next.get(nameOf(rs)) === specReplicas(rs)) next.delete(nameOf(rs));
  return next;
}

function condition(
  previous: JsonObject[],
  type: string,
  status: string,
  reason: string,
  message: string,
  wallMs: number,
): JsonObject {
  const before = previous.find((c) => c.type === type);
  const now = rfc3339(wallMs);
  const same =
    before && before.status === status && before.reason === reason && before.message === message;
  if (same) return before;
  return {
    type,
    status,
    lastUpdateTime: now,
    lastTransitionTime:
      before && before.status === status ? (before.lastTransitionTime ?? now) : now,
    reason,
    message,
  };
}

/** The Deployment's status from its ReplicaSets (`calculateStatus`). */
export function deploymentStatus(
  d: JsonObject,
  newRS: JsonObject | undefined,
  all: readonly JsonObject[],
  wallMs: number,
): JsonObject {
  const replicas = specReplicas(d);
  const sum = (f: string) => all.reduce((n, rs) => n + statusNumber(rs, f), 0);
  const available = sum("availableReplicas");
  const updated = newRS ? statusNumber(newRS, "replicas") : 0;
  const total = sum("replicas");
  const { maxUnavailable } = resolveFenceposts(d);
  const previous = (
    Array.isArray(asObject(d.status).conditions)
      ? (asObject(d.status).conditions as JsonValue[])
      : []
  ).filter(isJsonObject);
  const minAvailable = available >= replicas - maxUnavailable;
  const complete =
    newRS !== undefined &&
    updated === replicas &&
    total === replicas &&
    available === replicas &&
    specReplicas(newRS) === replicas;
  const rsName = newRS ? nameOf(newRS) : "";
  return {
    observedGeneration: asObject(d.metadata).generation ?? 1,
    replicas: total,
    updatedReplicas: updated,
    readyReplicas: sum("readyReplicas"),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, replicas - available),
    conditions: [
      condition(
        previous,
        "Available",
        minAvailable ? "True" : "False",
        minAvailable ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        minAvailable
          ? "Deployment has minimum availability."
          : "Deployment does not have minimum availability.",
        wallMs,
      ),
      condition(
        previous,
        "Progressing",
        "True",
        complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
        complete
          ? `ReplicaSet "${rsName}" has successfully progressed.`
          : `ReplicaSet "${rsName}" is progressing.`,
        wallMs,
      ),
    ],
  };
}
