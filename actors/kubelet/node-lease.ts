/**
 * The kubelet's heartbeat (Kubernetes' node status manager + node lease controller):
 *
 *   registering ──node created/updated──▶ renewing ──renewed──▶ waiting ──after leaseRenewIntervalMs──┐
 *        ▲                                   ▲                                                     │
 *        └── backoff ◀── failed ─────────────┴─────────────────────────────────────────────────────┘
 *
 * Registering creates the Node (or adopts an existing one: labels merged) and posts its status
 * through the `status` subresource. Renewing updates the Lease `kube-node-lease/<node>` (created
 * when missing; a 409 refetches) and, every `nodeStatusUpdateIntervalMs`, looks at the Node's
 * status: written when it changed beyond heartbeat times, or every `nodeStatusReportFrequencyMs`
 * (Kubernetes' kubelet since node leases). Timers are the actor's clock's.
 */

import { assign, fromPromise, setup } from "xstate";
import { asObject, type JsonObject, jsonEqual } from "../api/json.ts";
import { microTime } from "../api/meta-time.ts";
import { NODE_LEASE_NAMESPACE } from "../api/well-known.ts";
import type { ApiClient } from "../client/api-client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../client/errors.ts";
import { type EventRecorder, withTypeMeta } from "../client/event-recorder.ts";
import type { Clock } from "../system/clock.ts";
import type { KubeletLimits } from "./limits.ts";
import { leaseObject, type NodeFacts, nodeObject, nodeStatus } from "./node-object.ts";

const LEASE_RESOURCE = "leases.coordination.k8s.io";

export interface NodeLeaseDeps {
  api: ApiClient;
  /** The kubelet's Starting and NodeReady events on its Node. */
  events?: EventRecorder;
  clock: Clock;
  facts: NodeFacts;
  limits: Pick<
    KubeletLimits,
    | "leaseRenewIntervalMs"
    | "leaseDurationSeconds"
    | "nodeStatusUpdateIntervalMs"
    | "nodeStatusReportFrequencyMs"
    | "heartbeatBackoffInitialMs"
    | "heartbeatBackoffMaxMs"
  >;
}

interface NodeLeaseContext {
  deps: NodeLeaseDeps;
  nodeUid: string | null;
  lease: JsonObject | null;
  readySinceMs: number;
  /** When the Node's status was last looked at (every nodeStatusUpdateIntervalMs). */
  lastStatusMs: number;
  /** When it was last written (on a change, or every nodeStatusReportFrequencyMs). */
  lastReportMs: number;
  failures: number;
  lastError: string | null;
  renewals: number;
}

export type NodeLeaseEvent = { type: "heartbeat.stop" };

async function postNodeStatus(deps: NodeLeaseDeps, status: JsonObject): Promise<void> {
  await deps.api.patch(
    "nodes",
    deps.facts.nodeName,
    "merge",
    { status },
    { subresource: "status" },
  );
}

const registerNode = fromPromise<string, { deps: NodeLeaseDeps; readySinceMs: number }>(
  async ({ input }) => {
    const { api, facts } = input.deps;
    let node: JsonObject;
    try {
      node = await api.create("nodes", nodeObject(facts));
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      // re-registration after a restart: keep the object, refresh our labels
      node = await api.patch("nodes", facts.nodeName, "merge", {
        metadata: { labels: facts.labels },
      });
    }
    const wallMs = input.deps.clock.wallMs();
    await postNodeStatus(input.deps, nodeStatus(facts, wallMs, input.readySinceMs));
    const nodeRef = withTypeMeta(node, "v1", "Node");
    input.deps.events?.event(nodeRef, "Normal", "Starting", "Starting kubelet.");
    input.deps.events?.event(
      nodeRef,
      "Normal",
      "NodeReady",
      `Node ${facts.nodeName} status is now: NodeReady`,
    );
    return String(asObject(node.metadata).uid ?? "");
  },
);

interface RenewOutcome {
  lease: JsonObject;
  /** The Node's status was looked at (its interval was due). */
  statusChecked: boolean;
  /** ...and written. */
  statusPosted: boolean;
}

/** Conditions by type without their heartbeat times, and the rest of the status as is. */
function comparableStatus(status: JsonObject): JsonObject {
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const byType: JsonObject = {};
  for (const c of conditions) {
    const { lastHeartbeatTime: _, ...rest } = asObject(c);
    byType[String(rest.type)] = rest;
  }
  return {
    conditions: byType,
    capacity: status.capacity ?? null,
    allocatable: status.allocatable ?? null,
    addresses: status.addresses ?? null,
  };
}

/** Kubernetes' nodeStatusHasChanged: a difference other than heartbeat times. */
export function nodeStatusChanged(current: JsonObject, wanted: JsonObject): boolean {
  return !jsonEqual(comparableStatus(current), comparableStatus(wanted));
}

const renewLease = fromPromise<RenewOutcome, { context: NodeLeaseContext }>(async ({ input }) => {
  const { deps, lease, nodeUid, lastStatusMs, readySinceMs } = input.context;
  const { api, clock, facts, limits } = deps;
  const now = clock.wallMs();
  let renewed: JsonObject;
  const fresh = () =>
    api.create(
      LEASE_RESOURCE,
      leaseObject(facts.nodeName, now, limits.leaseDurationSeconds, nodeUid),
    );
  if (!lease) {
    try {
      renewed = await fresh();
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const current = await api.get(LEASE_RESOURCE, facts.nodeName, {
        namespace: NODE_LEASE_NAMESPACE,
      });
      renewed = await api.update(LEASE_RESOURCE, withRenewTime(current, now, facts.nodeName));
    }
  } else {
    try {
      renewed = await api.update(LEASE_RESOURCE, withRenewTime(lease, now, facts.nodeName));
    } catch (error) {
      if (isNotFound(error)) renewed = await fresh();
      else if (isConflict(error)) {
        // stale resourceVersion (someone else wrote it): refetch and renew
        const current = await api.get(LEASE_RESOURCE, facts.nodeName, {
          namespace: NODE_LEASE_NAMESPACE,
        });
        renewed = await api.update(LEASE_RESOURCE, withRenewTime(current, now, facts.nodeName));
      } else throw error;
    }
  }
  const statusDue = clock.nowMs() - lastStatusMs >= limits.nodeStatusUpdateIntervalMs;
  if (!statusDue) return { lease: renewed, statusChecked: false, statusPosted: false };
  // Kubernetes' tryUpdateNodeStatus: the Node as the API server's cache has it; written only
  // when it differs beyond heartbeat times (a controller marked it Unknown, say) or
  // nodeStatusReportFrequency has passed, since the Lease is the heartbeat
  const reportDue =
    clock.nowMs() - input.context.lastReportMs >= limits.nodeStatusReportFrequencyMs;
  const current = reportDue
    ? null
    : await api.get("nodes", facts.nodeName, { resourceVersion: "0" });
  const wanted = nodeStatus(facts, clock.wallMs(), readySinceMs);
  const post = current === null || nodeStatusChanged(asObject(current.status), wanted);
  if (post) await postNodeStatus(deps, wanted);
  return { lease: renewed, statusChecked: true, statusPosted: post };
});

function withRenewTime(lease: JsonObject, nowMs: number, holder: string): JsonObject {
  return {
    ...lease,
    spec: { ...asObject(lease.spec), holderIdentity: holder, renewTime: microTime(nowMs) },
  };
}

export const nodeLeaseMachine = setup({
  types: {
    context: {} as NodeLeaseContext,
    input: {} as { deps: NodeLeaseDeps },
    events: {} as NodeLeaseEvent,
  },
  actors: { registerNode, renewLease },
  delays: {
    leaseRenewInterval: ({ context }) => context.deps.limits.leaseRenewIntervalMs,
    heartbeatBackoff: ({ context }) =>
      Math.min(
        context.deps.limits.heartbeatBackoffInitialMs * 2 ** Math.max(0, context.failures - 1),
        context.deps.limits.heartbeatBackoffMaxMs,
      ),
  },
  guards: {
    isRegistered: ({ context }) => context.nodeUid !== null,
  },
  actions: {
    recordRegistered: assign(({ context }, uid: string) => ({
      nodeUid: uid,
      failures: 0,
      lastError: null,
      lastStatusMs: context.deps.clock.nowMs(),
      lastReportMs: context.deps.clock.nowMs(),
    })),
    recordRenewed: assign(({ context }, out: RenewOutcome) => ({
      lease: out.lease,
      failures: 0,
      lastError: null,
      renewals: context.renewals + 1,
      lastStatusMs: out.statusChecked ? context.deps.clock.nowMs() : context.lastStatusMs,
      lastReportMs: out.statusPosted ? context.deps.clock.nowMs() : context.lastReportMs,
    })),
    recordFailure: assign(({ context }, error: string) => ({
      failures: context.failures + 1,
      lastError: error,
      // a failed update may have left our copy stale; refetch next time
      lease: null,
    })),
  },
}).createMachine({
  id: "node-lease",
  context: ({ input }) => ({
    deps: input.deps,
    nodeUid: null,
    lease: null,
    readySinceMs: input.deps.clock.wallMs(),
    lastStatusMs: input.deps.clock.nowMs(),
    lastReportMs: input.deps.clock.nowMs(),
    failures: 0,
    lastError: null,
    renewals: 0,
  }),
  initial: "registering",
  on: { "heartbeat.stop": ".stopped" },
  states: {
    registering: {
      invoke: {
        src: "registerNode",
        input: ({ context }) => ({ deps: context.deps, readySinceMs: context.readySinceMs }),
        onDone: {
          target: "renewing",
          actions: { type: "recordRegistered", params: ({ event }) => event.output },
        },
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => String(event.error) },
        },
      },
    },
    renewing: {
      invoke: {
        src: "renewLease",
        input: ({ context }) => ({ context }),
        onDone: {
          target: "waiting",
          actions: { type: "recordRenewed", params: ({ event }) => event.output },
        },
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => String(event.error) },
        },
      },
    },
    waiting: { after: { leaseRenewInterval: "renewing" } },
    backoff: {
      after: {
        heartbeatBackoff: [
          { guard: "isRegistered", target: "renewing" },
          { target: "registering" },
        ],
      },
    },
    stopped: { type: "final" },
  },
});
