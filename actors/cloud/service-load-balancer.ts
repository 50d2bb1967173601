/**
 * The service controller's pure decisions (cloud-provider's controllers/service): which Services
 * get a load balancer, which nodes back it, and the Service as it should be written back
 * (finalizer, `status.loadBalancer`, the condition saying why there is none). No I/O.
 */
import { asArray, asObject, asString, type JsonObject, jsonEqual } from "../api/json.ts";
import type { LoadBalancerStatus } from "./cloud-provider.ts";

export const LOAD_BALANCER_CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup";
/** Nodes with this label never back a load balancer (Kubernetes' well-known label). */
export const EXCLUDE_FROM_LOAD_BALANCERS_LABEL =
  "node.kubernetes.io/exclude-from-external-load-balancers";
/**
 * The condition on `status.conditions` that says whether the Service has its load balancer,
 * and if not, why (`reason`: `ExternalIPPoolExhausted`, `PortClash`, …). Kubernetes defines no
 * such condition; bosun adds one so that `kubectl get svc -o yaml` answers "why pending?".
 */
export const LOAD_BALANCER_CONDITION = "LoadBalancerReady";

/** `type: LoadBalancer` without a `loadBalancerClass` (any class belongs to another controller). */
export function wantsLoadBalancer(svc: JsonObject): boolean {
  const spec = asObject(svc.spec);
  return spec.type === "LoadBalancer" && asString(spec.loadBalancerClass) === "";
}

export function isBeingDeleted(o: JsonObject): boolean {
  return asString(asObject(o.metadata).deletionTimestamp) !== "";
}

export function hasCleanupFinalizer(svc: JsonObject): boolean {
  return asArray(asObject(svc.metadata).finalizers).includes(LOAD_BALANCER_CLEANUP_FINALIZER);
}

export function withCleanupFinalizer(svc: JsonObject, present: boolean): JsonObject {
  const meta = asObject(svc.metadata);
  const others = asArray(meta.finalizers).filter((f) => f !== LOAD_BALANCER_CLEANUP_FINALIZER);
  const finalizers = present ? [...others, LOAD_BALANCER_CLEANUP_FINALIZER] : others;
  const next: JsonObject = { ...meta, finalizers };
  if (finalizers.length === 0) delete next.finalizers;
  return { ...svc, metadata: next };
}

function isReady(node: JsonObject): boolean {
  return asArray(asObject(node.status).conditions).some((c) => {
    const o = asObject(c);
    return o.type === "Ready" && o.status === "True";
  });
}

/** The nodes a load balancer forwards to: Ready, not leaving, not excluded by label. */
export function loadBalancerNodes(nodes: readonly JsonObject[]): JsonObject[] {
  return nodes
    .filter((n) => isReady(n) && !isBeingDeleted(n))
    .filter((n) => !(EXCLUDE_FROM_LOAD_BALANCERS_LABEL in asObject(asObject(n.metadata).labels)))
    .sort((a, b) =>
      asString(asObject(a.metadata).name).localeCompare(asString(asObject(b.metadata).name)),
    );
}

/** What about a node matters to load balancers; a change in it is a node-set change. */
export function loadBalancerRelevantView(node: JsonObject): string {
  return JSON.stringify([
    loadBalancerNodes([node]).length === 1,
    asArray(asObject(node.status).addresses),
  ]);
}

export interface LoadBalancerCondition {
  status: "True" | "False";
  reason: string;
  message: string;
}

/**
 * `conditions` with ours set (metav1.Condition); `lastTransitionTime` moves only when the status
 * does, as the API conventions ask.
 */
export function withCondition(
  conditions: readonly JsonObject[],
  condition: LoadBalancerCondition,
  nowIso: string,
): JsonObject[] {
  const current = conditions.find((c) => c.type === LOAD_BALANCER_CONDITION);
  const next: JsonObject = {
    type: LOAD_BALANCER_CONDITION,
    status: condition.status,
    reason: condition.reason,
    message: condition.message,
    lastTransitionTime:
      current && current.status === condition.status
        ? asString(current.lastTransitionTime) || nowIso
        : nowIso,
  };
  return [...conditions.filter((c) => c.type !== LOAD_BALANCER_CONDITION), next];
}

/**
 * The Service's status with `loadBalancer` and our condition as given, or null when the
 * Service already says exactly that (no write needed).
 */
export function desiredStatus(
  svc: JsonObject,
  loadBalancer: LoadBalancerStatus | null,
  condition: LoadBalancerCondition | null,
  nowIso: string,
): JsonObject | null {
  const status = asObject(svc.status);
  const conditions = asArray(status.conditions).map(asObject);
  const lb: JsonObject =
    loadBalancer === null || loadBalancer.ingress.length === 0
      ? {}
      : { ingress: loadBalancer.ingress.map((i) => ({ ...i }) as JsonObject) };
  const nextConditions =
    condition === null
      ? conditions.filter((c) => c.type !== LOAD_BALANCER_CONDITION)
      : withCondition(conditions, condition, nowIso);
  const next: JsonObject = { ...status, loadBalancer: lb };
  if (nextConditions.length > 0) next.conditions = nextConditions;
  else delete next.conditions;
  const same =
    jsonEqual(asObject(status.loadBalancer), lb) &&
    jsonEqual(
      conditions.map(({ lastTransitionTime: _, ...c }) => c),
      nextConditions.map(({ lastTransitionTime: _, ...c }) => c),
    );
  return same ? null : next;
}
