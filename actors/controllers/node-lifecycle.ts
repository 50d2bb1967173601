/**
 * The node lifecycle controller (kube-controller-manager's `nodelifecycle` controller with its
 * NoExecute taint manager, simplified to the unreachable case):
 *
 * - A node whose Lease `kube-node-lease/<node>` has not changed for `nodeMonitorGracePeriodMs`
 *   gets its conditions set to `Unknown` (reason `NodeStatusUnknown`) through the `status`
 *   subresource and the taint `node.kubernetes.io/unreachable:NoExecute`.
 * - When the Lease moves again the taint is removed; the kubelet itself posts Ready again.
 * - Pods on a node with that taint are evicted (deleted with `gracePeriodSeconds: 0`: nobody is
 *   left to run their shutdown) `podEvictionTimeoutMs` after the taint, or after the
 *   `tolerationSeconds` of a matching toleration; a toleration without seconds keeps the pod.
 *   Their ReplicaSet replaces them and the scheduler keeps the new pods off the tainted node.
 *
 * Staleness is measured as the leader election does (client-go's observedTime): "the Lease's
 * resourceVersion has not changed since I first saw it, for N ms of my monotonic clock", never by
 * comparing the kubelet's wall-clock `renewTime` with ours, so clock skew between machines cannot
 * mark a healthy node unreachable. A freshly started (or newly elected) controller therefore
 * waits a full grace period before it judges any node, as kube-controller-manager does.
 */

import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { type Taint, toleratesTaint, tolerationsOf } from "../api/taints.ts";
import { NODE_LEASE_NAMESPACE, UNREACHABLE_TAINT_KEY } from "../api/well-known.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import { withTypeMeta } from "../client/event-recorder.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { nameOf, namespaceOf, uidOf } from "./owner-references.ts";

export const NODES = "nodes";
export const NODE_LEASES = "leases.coordination.k8s.io";
const PODS = "pods";

export const UNREACHABLE_TAINT: Taint = {
  key: UNREACHABLE_TAINT_KEY,
  value: "",
  effect: "NoExecute",
};
export const NODE_STATUS_UNKNOWN_REASON = "NodeStatusUnknown";
export const NODE_STATUS_UNKNOWN_MESSAGE = "Kubelet stopped posting node status.";

export interface NodeLifecycleOptions {
  /**
   * How long a Lease may stand still before its node is unreachable. Kubernetes: 40 s against
   * a 10 s renew interval. bosun's kubelets renew every 1 s and bosun aims at fast failover, so
   * 4 s: four missed renewals, which a busy but live kubelet does not miss.
   */
  nodeMonitorGracePeriodMs: number;
  /** Extra wait after the taint before evicting pods that do not tolerate it (Kubernetes: 5 min
   * through the default tolerationSeconds=300 toleration; bosun adds none). */
  podEvictionTimeoutMs: number;
  /** Pods evicted per reconcile, at most (a named bound, like burstReplicas). */
  maxEvictionsPerReconcile: number;
}

export const DEFAULT_NODE_LIFECYCLE_OPTIONS: NodeLifecycleOptions = {
  nodeMonitorGracePeriodMs: 4_000,
  podEvictionTimeoutMs: 0,
  maxEvictionsPerReconcile: 500,
};

/** When we last saw a node's Lease change, on our monotonic clock. */
interface LeaseObservation {
  resourceVersion: string;
  atMs: number;
}

export function hasUnreachableTaint(node: JsonObject): boolean {
  return asArray(asObject(node.spec).taints).some((t) => {
    const o = asObject(t);
    return o.key === UNREACHABLE_TAINT_KEY && o.effect === UNREACHABLE_TAINT.effect;
  });
}

function withUnreachableTaint(node: JsonObject, wallMs: number): JsonObject {
  const spec = asObject(node.spec);
  const taints = [
    ...asArray(spec.taints),
    { key: UNREACHABLE_TAINT_KEY, effect: UNREACHABLE_TAINT.effect, timeAdded: rfc3339(wallMs) },
  ];
  return { ...node, spec: { ...spec, taints } };
}

function withoutUnreachableTaint(node: JsonObject): JsonObject {
  const spec = asObject(node.spec);
  const taints = asArray(spec.taints).filter((t) => {
    const o = asObject(t);
    return !(o.key === UNREACHABLE_TAINT_KEY && o.effect === UNREACHABLE_TAINT.effect);
  });
  const next: JsonObject = { ...spec, taints };
  if (taints.length === 0) delete next.taints;
  return { ...node, spec: next };
}

/** Every condition Unknown (`nodelifecycle`'s tryUpdateNodeHealth), keeping the heartbeats. */
export function unknownConditions(node: JsonObject, wallMs: number): JsonObject[] {
  const conditions = asArray(asObject(node.status).conditions).map(asObject);
  const types = conditions.map((c) => c.type);
  if (!types.includes("Ready")) conditions.push({ type: "Ready", status: "False" });
  return conditions.map((c) =>
    c.status === "Unknown"
      ? c
      : {
          ...c,
          status: "Unknown",
          reason: NODE_STATUS_UNKNOWN_REASON,
          message: NODE_STATUS_UNKNOWN_MESSAGE,
          lastTransitionTime: rfc3339(wallMs),
        },
  );
}

export function isReadyUnknown(node: JsonObject): boolean {
  return asArray(asObject(node.status).conditions).some((c) => {
    const o = asObject(c);
    return o.type === "Ready" && o.status === "Unknown";
  });
}

/**
 * When a pod on an unreachable node must go, in ms after the taint: `podEvictionTimeoutMs` if no
 * toleration matches; the smallest `tolerationSeconds` of the matching ones; `null` (never) if a
 * matching toleration has no `tolerationSeconds` (NoExecuteTaintManager's getMinTolerationTime).
 */
export function evictionDelayMs(pod: JsonObject, podEvictionTimeoutMs: number): number | null {
  const raw = asArray(asObject(pod.spec).tolerations).map(asObject);
  const parsed = tolerationsOf(pod);
  let min: number | null = null;
  let matched = false;
  for (let i = 0; i < parsed.length; i++) {
    const toleration = parsed[i];
    if (!toleration || !toleratesTaint(toleration, UNREACHABLE_TAINT)) continue;
    matched = true;
    const seconds = raw[i]?.tolerationSeconds;
    if (typeof seconds !== "number") return null;
    const ms = Math.max(0, seconds) * 1000;
    min = min === null ? ms : Math.min(min, ms);
  }
  return matched ? min : podEvictionTimeoutMs;
}

const isGoneOrChanged = (e: unknown) => isNotFound(e) || isConflict(e);

/** The controller: primary Nodes; Leases and Pods map to the node they are about. */
export function nodeLifecycleController(
  ctx: ControllerContext,
  overrides: Partial<NodeLifecycleOptions> = {},
): ControllerDefinition {
  const options = { ...DEFAULT_NODE_LIFECYCLE_OPTIONS, ...overrides };
  const { api, cache, clock } = ctx;
  const leaseSeen = new Map<string, LeaseObservation>();
  /** When we saw each node tainted (monotonic): eviction deadlines count from here. */
  const taintSeen = new Map<string, number>();
  // kube-controller-manager's node lifecycle controller reports as `node-controller`
  const recorder = ctx.events.newRecorder({ component: "node-controller" });
  /** Node uids this controller has seen (RegisteredNode once per node and leader term). */
  const registered = new Set<string>();
  const nodeObject = (node: JsonObject) => withTypeMeta(node, "v1", "Node");

  function observeLease(nodeName: string, nowMs: number): LeaseObservation {
    const lease = cache.get(NODE_LEASES, { namespace: NODE_LEASE_NAMESPACE, name: nodeName });
    // no Lease yet counts as one that never moves: a node that registers and dies is judged too
    const resourceVersion = lease ? asString(asObject(lease.metadata).resourceVersion) : "";
    const previous = leaseSeen.get(nodeName);
    if (previous && previous.resourceVersion === resourceVersion) return previous;
    const observation = { resourceVersion, atMs: nowMs };
    leaseSeen.set(nodeName, observation);
    return observation;
  }

  async function markUnreachable(nodeName: string): Promise<void> {
    let node = await api.get(NODES, nodeName);
    if (!isReadyUnknown(node)) {
      const status = {
        ...asObject(node.status),
        conditions: unknownConditions(node, clock.wallMs()),
      };
      node = await api.update(NODES, { ...node, status }, { subresource: "status" });
      recorder.event(
        nodeObject(node),
        "Normal",
        "NodeNotReady",
        `Node ${nodeName} status is now: NodeNotReady`,
      );
    }
    if (!hasUnreachableTaint(node))
      await api.update(NODES, withUnreachableTaint(node, clock.wallMs()));
  }

  async function markReachable(nodeName: string): Promise<void> {
    const node = await api.get(NODES, nodeName);
    if (hasUnreachableTaint(node)) await api.update(NODES, withoutUnreachableTaint(node));
  }

  /** Evicts what is due; returns ms until the next pod is due, or null. */
  async function evictPods(nodeName: string, taintedAtMs: number, nowMs: number) {
    let nextDueMs: number | null = null;
    let evicted = 0;
    for (const pod of cache.list(PODS)) {
      if (asObject(pod.spec).nodeName !== nodeName) continue;
      const delay = evictionDelayMs(pod, options.podEvictionTimeoutMs);
      if (delay === null) continue;
      const dueInMs = taintedAtMs + delay - nowMs;
      if (dueInMs > 0 || evicted >= options.maxEvictionsPerReconcile) {
        const wait = Math.max(dueInMs, 1);
        nextDueMs = nextDueMs === null ? wait : Math.min(nextDueMs, wait);
        continue;
      }
      try {
        await api.delete(PODS, nameOf(pod), {
          namespace: namespaceOf(pod),
          preconditions: { uid: uidOf(pod) },
          // the kubelet is unreachable: nobody would finish a graceful deletion
          gracePeriodSeconds: 0,
        });
        recorder.event(
          withTypeMeta(pod, "v1", "Pod"),
          "Normal",
          "TaintManagerEviction",
          `Marking for deletion Pod ${namespaceOf(pod)}/${nameOf(pod)}`,
        );
        evicted++;
      } catch (error) {
        if (!isGoneOrChanged(error)) throw error;
      }
    }
    return nextDueMs;
  }

  return {
    name: "node-lifecycle",
    primary: NODES,
    primaryKind: "Node",
    watches: [
      {
        resource: NODE_LEASES,
        map: (lease) =>
          namespaceOf(lease) === NODE_LEASE_NAMESPACE
            ? [{ namespace: "", name: nameOf(lease) }]
            : [],
      },
      {
        // a pod bound to an unreachable node (a race with the scheduler) is evicted too
        resource: PODS,
        map: (pod) => {
          const node = asString(asObject(pod.spec).nodeName);
          return node ? [{ namespace: "", name: node }] : [];
        },
      },
    ],
    async reconcile(key: ObjectKey) {
      const node = cache.get(NODES, key);
      if (!node) {
        leaseSeen.delete(key.name);
        taintSeen.delete(key.name);
        return undefined;
      }
      if (!registered.has(uidOf(node))) {
        registered.add(uidOf(node));
        recorder.event(
          nodeObject(node),
          "Normal",
          "RegisteredNode",
          `Node ${key.name} event: Registered Node ${key.name} in Controller`,
        );
      }
      const nowMs = clock.nowMs();
      const observed = observeLease(key.name, nowMs);
      const staleForMs = nowMs - observed.atMs;
      if (staleForMs < options.nodeMonitorGracePeriodMs) {
        taintSeen.delete(key.name);
        if (hasUnreachableTaint(node)) await markReachable(key.name);
        return { requeueAfterMs: options.nodeMonitorGracePeriodMs - staleForMs };
      }
      if (!hasUnreachableTaint(node) || !isReadyUnknown(node)) await markUnreachable(key.name);
      // a taint found already in place (another leader's) counts from now: later, never sooner
      const taintedAtMs = taintSeen.get(key.name) ?? nowMs;
      taintSeen.set(key.name, taintedAtMs);
      const nextDueMs = await evictPods(key.name, taintedAtMs, nowMs);
      // look again while unreachable: the Lease watch wakes us when the node comes back, this
      // is the fallback (and the next eviction deadline)
      return {
        requeueAfterMs: Math.min(
          nextDueMs ?? options.nodeMonitorGracePeriodMs,
          options.nodeMonitorGracePeriodMs,
        ),
      };
    },
  };
}
