/**
 * Kubernetes' Service allocation repair controllers (pkg/registry/core/service/ipallocator and
 * portallocator's `Repair`), in the controller manager. The API server allocates cluster IPs and
 * NodePorts inside the Service's create or update, each value a key in the store written in the
 * same txn (actors/apiserver/service-allocator.ts); this controller looks after what those txns
 * cannot:
 *
 * - A user-chosen clusterIP or nodePort that another (older) Service also holds, or that is
 *   outside the range — values written before the API server allocated, or under another range
 *   configuration — gets a Warning Event, as Kubernetes' repair controllers report them:
 *   `ClusterIPAlreadyAllocated`, `ClusterIPOutOfRange`, `PortAlreadyAllocated`,
 *   `PortOutOfRange`.
 * - A ClusterIP/NodePort/LoadBalancer Service still without its values (created before the API
 *   server allocated: the upgrade path) is written back unchanged once, and the API server's
 *   update allocates them through the same allocator as a create; a full range is a Warning
 *   Event and another look after `rangeFullRetryMs`.
 *
 * Allocation keys are not this controller's to see (controllers speak only the API, which does
 * not show them): each API server's repair loop (actors/apiserver/service-allocation-repair.ts)
 * removes those whose Service is gone and records those older Services lack.
 */

import { type IntRange, inRange, numberToIpv4 } from "../api/allocation-range.ts";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import {
  allocationOf,
  DEFAULT_NODE_PORT_RANGE,
  needsAllocation,
  serviceRanges,
} from "../api/service-allocation.ts";
import { DEFAULT_SERVICE_CLUSTER_IP_CIDR } from "../api/well-known.ts";
import { ApiError } from "../client/errors.ts";
import { objectEvent } from "../client/object-event.ts";
import { keyOf, keyString, type ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition, ReconcileResult } from "./controller.ts";
import { isBeingDeleted, uidOf } from "./owner-references.ts";
import { SERVICES } from "./service-pods.ts";

export { DEFAULT_NODE_PORT_RANGE, DEFAULT_SERVICE_CLUSTER_IP_CIDR };
/** A full range is looked at again after this (a deleted Service frees its values). */
export const RANGE_FULL_RETRY_MS = 5_000;

export const SERVICE_ALLOCATION_COMPONENT = "service-ip-allocation";

export interface ServiceAllocationOptions {
  clusterIPCidr: string;
  nodePortRange: IntRange;
  rangeFullRetryMs: number;
}

export const DEFAULT_SERVICE_ALLOCATION_OPTIONS: ServiceAllocationOptions = {
  clusterIPCidr: DEFAULT_SERVICE_CLUSTER_IP_CIDR,
  nodePortRange: DEFAULT_NODE_PORT_RANGE,
  rangeFullRetryMs: RANGE_FULL_RETRY_MS,
};

/** Which service keys hold each value (a value held by two is a collision). */
interface Holders {
  ips: Map<number, JsonObject[]>;
  nodePorts: Map<number, JsonObject[]>;
}

function holdersOf(services: Iterable<JsonObject>): Holders {
  const h: Holders = { ips: new Map(), nodePorts: new Map() };
  const add = (m: Map<number, JsonObject[]>, v: number, svc: JsonObject) => {
    const list = m.get(v) ?? [];
    list.push(svc);
    m.set(v, list);
  };
  for (const svc of services) {
    const a = allocationOf(svc);
    for (const ip of a.ips) add(h.ips, ip, svc);
    for (const port of a.nodePorts) add(h.nodePorts, port, svc);
  }
  return h;
}

/** Older first (then by namespace/name): the first holder of a value keeps it. */
function compareAge(a: JsonObject, b: JsonObject): number {
  const created = (o: JsonObject) => asString(asObject(o.metadata).creationTimestamp);
  return (
    created(a).localeCompare(created(b)) || keyString(keyOf(a)).localeCompare(keyString(keyOf(b)))
  );
}

/** One warning the Service deserves: its value is another's, or outside the range. */
export interface AllocationWarning {
  reason:
    | "ClusterIPAlreadyAllocated"
    | "ClusterIPOutOfRange"
    | "PortAlreadyAllocated"
    | "PortOutOfRange";
  message: string;
}

export function allocationWarnings(
  svc: JsonObject,
  services: readonly JsonObject[],
  ipRange: IntRange,
  cidr: string,
  nodePortRange: IntRange,
): AllocationWarning[] {
  const holders = holdersOf(services);
  const key = keyString(keyOf(svc));
  const isLaterHolder = (list: JsonObject[] | undefined) => {
    const sorted = [...(list ?? [])].sort(compareAge);
    return sorted.length > 1 && keyString(keyOf(sorted[0] as JsonObject)) !== key;
  };
  const warnings: AllocationWarning[] = [];
  const own = allocationOf(svc);
  for (const ip of own.ips) {
    const text = numberToIpv4(ip);
    if (!inRange(ipRange, ip))
      warnings.push({
        reason: "ClusterIPOutOfRange",
        message: `Cluster IP [IPv4]:${text} is not within the configured Service CIDR ${cidr}; please recreate service`,
      });
    else if (isLaterHolder(holders.ips.get(ip)))
      warnings.push({
        reason: "ClusterIPAlreadyAllocated",
        message: `Cluster IP [IPv4]:${text} was assigned to multiple services; please recreate service`,
      });
  }
  for (const port of own.nodePorts) {
    if (!inRange(nodePortRange, port))
      warnings.push({
        reason: "PortOutOfRange",
        message: `Port ${port} is not within the port range ${nodePortRange.first}-${nodePortRange.last}; please recreate service`,
      });
    else if (isLaterHolder(holders.nodePorts.get(port)))
      warnings.push({
        reason: "PortAlreadyAllocated",
        message: `Port ${port} was assigned to multiple services; please recreate service`,
      });
  }
  return warnings;
}

export function serviceIPAllocationController(
  ctx: ControllerContext,
  overrides: Partial<ServiceAllocationOptions> = {},
): ControllerDefinition {
  const options = { ...DEFAULT_SERVICE_ALLOCATION_OPTIONS, ...overrides };
  const ipRange = serviceRanges(options.clusterIPCidr, options.nodePortRange).ips;
  const { api, cache, clock } = ctx;
  /** Services (by uid) already written back for the API server to allocate: once each. */
  const upgraded = new Set<string>();
  /** Warnings already reported per Service (one Event per cause, not one per reconcile). */
  const warned = new Map<string, { uid: string; seen: Set<string> }>();
  let eventCounter = 0;

  async function warn(svc: JsonObject, reason: string, message: string): Promise<void> {
    const svcKey = keyString(keyOf(svc));
    const entry = warned.get(svcKey);
    const seen = entry && entry.uid === uidOf(svc) ? entry.seen : new Set<string>();
    if (seen.has(`${reason}|${message}`)) return;
    const event = objectEvent(
      { apiVersion: "v1", kind: "Service", ...svc },
      {
        type: "Warning",
        reason,
        message,
        component: SERVICE_ALLOCATION_COMPONENT,
        nowIso: rfc3339(clock.wallMs()),
        uniqueSuffix: `${Math.floor(clock.wallMs()).toString(16)}${(++eventCounter).toString(16)}`,
      },
    );
    try {
      await api.create("events", event, { namespace: keyOf(svc).namespace });
      seen.add(`${reason}|${message}`);
      warned.set(svcKey, { uid: uidOf(svc), seen });
    } catch {
      // events are best effort (client-go's recorder drops them too); the next look retries
    }
  }

  /** The upgrade path: the API server's update allocates what the Service lacks. */
  async function allocateThroughUpdate(
    svc: JsonObject,
    key: ObjectKey,
  ): Promise<ReconcileResult | undefined> {
    try {
      await api.update(SERVICES, svc, { namespace: key.namespace });
      upgraded.add(uidOf(svc));
      return undefined;
    } catch (error) {
      const message = error instanceof ApiError ? (error.status.message ?? "") : "";
      if (!/range is full/.test(message)) throw error;
      const reason = /serviceIP/.test(message)
        ? "ClusterIPAllocationFailed"
        : "NodePortAllocationFailed";
      await warn(svc, reason, message);
      return { requeueAfterMs: options.rangeFullRetryMs };
    }
  }

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    const svcKey = keyString(key);
    const svc = cache.get(SERVICES, key);
    if (!svc) {
      warned.delete(svcKey);
      return undefined;
    }
    for (const w of allocationWarnings(
      svc,
      cache.list(SERVICES),
      ipRange,
      options.clusterIPCidr,
      options.nodePortRange,
    ))
      await warn(svc, w.reason, w.message);
    if (!needsAllocation(svc)) {
      upgraded.delete(uidOf(svc)); // allocated: nothing more to remember
      return undefined;
    }
    if (!isBeingDeleted(svc) && !upgraded.has(uidOf(svc))) return allocateThroughUpdate(svc, key);
    return undefined;
  }

  return {
    name: "service-ip-allocation",
    primary: SERVICES,
    primaryKind: "Service",
    reconcile,
  };
}
