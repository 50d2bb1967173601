/**
 * Service ClusterIP and NodePort allocation (DESIGN §7). In Kubernetes the API server allocates
 * both while creating a Service and a repair controller reports leaks and collisions; bosun's API
 * server leaves `spec.clusterIP` empty (it only keeps it immutable once set), so this controller
 * does the allocating after the fact, and the repair controller's warnings:
 *
 * - A ClusterIP, NodePort or LoadBalancer Service without `spec.clusterIP` (or "") gets a free
 *   address of `clusterIPCidr` (cluster IPs are loopback addresses on each node, where the proxy
 *   serves them) in `spec.clusterIP` and `spec.clusterIPs`. Headless (`None`) and ExternalName
 *   Services get none.
 * - Ports of NodePort and LoadBalancer Services without a `nodePort` get a free one of
 *   `nodePortRange` (ports with the same number share one, as for TCP+UDP on one port).
 * - Free means used by no other Service in the informer cache, in a linearizable list of all
 *   Services taken just before the write (the cache may lag), or among this controller's own
 *   writes the cache has not shown yet. Only the leader allocates, one Service at a time, so
 *   nothing else hands out addresses between that list and the write; the write carries the
 *   listed resourceVersion and fails with 409 (then retries) if the Service changed meanwhile.
 * - A user-chosen clusterIP or nodePort that another (older) Service already uses, or that is
 *   outside the range, stays as the user wrote it (it is immutable) and gets a Warning Event, as
 *   Kubernetes' repair controllers report them: `ClusterIPAlreadyAllocated`,
 *   `ClusterIPOutOfRange`, `PortAlreadyAllocated`, `PortOutOfRange`.
 * - A full range is a Warning Event and another look after `rangeFullRetryMs`.
 */

import { randomInt } from "node:crypto";
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { withTypeMeta } from "../client/event-recorder.ts";
import { keyOf, keyString, type ObjectKey, parseKey } from "../client/object-key.ts";
import {
  cidrRange,
  type IntRange,
  inRange,
  ipv4ToNumber,
  numberToIpv4,
  pickFree,
  rangeSize,
} from "./allocation-range.ts";
import type { ControllerContext, ControllerDefinition, ReconcileResult } from "./controller.ts";
import { uidOf } from "./owner-references.ts";
import { CLUSTER_IP_NONE, SERVICES } from "./service-pods.ts";

/**
 * Where ClusterIPs come from: loopback addresses (each node answers them on `lo`), clear of
 * the pod IPs (127.200.0.0–127.249.255.255) and of 127.0.0.1. About a million addresses.
 */
export const DEFAULT_SERVICE_CLUSTER_IP_CIDR = "127.96.0.0/12";
/** Kubernetes' `--service-node-port-range` default. */
export const DEFAULT_NODE_PORT_RANGE: IntRange = { first: 30_000, last: 32_767 };
/** A full range is looked at again after this (a deleted Service frees its values). */
export const RANGE_FULL_RETRY_MS = 5_000;
/** Services per page of the linearizable re-check list. */
export const ALLOCATION_LIST_PAGE_SIZE = 500;

export const SERVICE_ALLOCATION_COMPONENT = "service-ip-allocation";

export interface ServiceAllocationOptions {
  clusterIPCidr: string;
  nodePortRange: IntRange;
  rangeFullRetryMs: number;
  /** A random integer in [0, bound): where the scan for a free value starts. */
  random: (bound: number) => number;
}

export const DEFAULT_SERVICE_ALLOCATION_OPTIONS: ServiceAllocationOptions = {
  clusterIPCidr: DEFAULT_SERVICE_CLUSTER_IP_CIDR,
  nodePortRange: DEFAULT_NODE_PORT_RANGE,
  rangeFullRetryMs: RANGE_FULL_RETRY_MS,
  random: (bound) => randomInt(bound),
};

/** What a Service holds of both ranges (as numbers; unparsable values hold nothing). */
export interface ServiceAllocation {
  ips: number[];
  nodePorts: number[];
}

const ALLOCATING_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"];

function serviceType(svc: JsonObject): string {
  return asString(asObject(svc.spec).type) || "ClusterIP";
}

export function allocationOf(svc: JsonObject): ServiceAllocation {
  const spec = asObject(svc.spec);
  const ips = new Set<number>();
  for (const raw of [spec.clusterIP, ...asArray(spec.clusterIPs)]) {
    const n = ipv4ToNumber(asString(raw));
    if (n !== null) ips.add(n);
  }
  const nodePorts = new Set<number>();
  for (const p of asArray(spec.ports).map(asObject))
    if (typeof p.nodePort === "number" && p.nodePort > 0) nodePorts.add(p.nodePort);
  return { ips: [...ips], nodePorts: [...nodePorts] };
}

function wantsNodePorts(svc: JsonObject): boolean {
  const type = serviceType(svc);
  return (
    type === "NodePort" ||
    (type === "LoadBalancer" && asObject(svc.spec).allocateLoadBalancerNodePorts !== false)
  );
}

const hasNodePort = (p: JsonObject) => typeof p.nodePort === "number" && p.nodePort > 0;

/** What the Service still lacks: a ClusterIP, `clusterIPs`, NodePorts. */
export interface AllocationNeeds {
  clusterIP: boolean;
  /**
   * The user set one of `clusterIP` and `clusterIPs[0]` but not the other: they mirror each
   * other (as the API server's defaulting makes them in Kubernetes).
   */
  clusterIPs: boolean;
  nodePorts: boolean;
}

export function allocationNeeds(svc: JsonObject): AllocationNeeds {
  const spec = asObject(svc.spec);
  if (!ALLOCATING_TYPES.includes(serviceType(svc)))
    return { clusterIP: false, clusterIPs: false, nodePorts: false };
  const clusterIP = asString(spec.clusterIP);
  const listed = asArray(spec.clusterIPs).map(asString);
  return {
    clusterIP: clusterIP === "" && (listed[0] ?? "") === "",
    clusterIPs:
      (clusterIP !== "" && clusterIP !== CLUSTER_IP_NONE && listed.length === 0) ||
      (clusterIP === "" && (listed[0] ?? "") !== ""),
    nodePorts:
      wantsNodePorts(svc) &&
      asArray(spec.ports)
        .map(asObject)
        .some((p) => !hasNodePort(p)),
  };
}

/** The Service with `ip` (if given) as its ClusterIP and the missing NodePorts filled in. */
export function withAllocation(
  svc: JsonObject,
  ip: string | null,
  nextNodePort: () => number | null,
): JsonObject | null {
  const spec = { ...asObject(svc.spec) };
  const listed = asArray(spec.clusterIPs).map(asString);
  if (ip !== null) spec.clusterIP = ip;
  else if (asString(spec.clusterIP) === "" && (listed[0] ?? "") !== "")
    spec.clusterIP = listed[0] ?? "";
  if (asString(spec.clusterIP) !== "" && spec.clusterIP !== CLUSTER_IP_NONE && listed.length === 0)
    spec.clusterIPs = [asString(spec.clusterIP)];
  if (ip !== null && asArray(spec.ipFamilies).length === 0) spec.ipFamilies = ["IPv4"];
  if (wantsNodePorts(svc)) {
    // ports with the same number (TCP and UDP of one port) share a NodePort
    const byPort = new Map<number, number>();
    const ports = asArray(spec.ports).map(asObject);
    for (const p of ports) if (hasNodePort(p)) byPort.set(Number(p.port), Number(p.nodePort));
    const next: JsonObject[] = [];
    for (const p of ports) {
      if (hasNodePort(p)) {
        next.push(p);
        continue;
      }
      let nodePort = byPort.get(Number(p.port)) ?? null;
      if (nodePort === null) nodePort = nextNodePort();
      if (nodePort === null) return null;
      byPort.set(Number(p.port), nodePort);
      next.push({ ...p, nodePort });
    }
    spec.ports = next;
  }
  return { ...svc, spec };
}

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

/** Our write that the cache may not show yet. */
interface RecentWrite {
  uid: string;
  resourceVersion: number;
  allocation: ServiceAllocation;
}

const revisionOf = (o: JsonObject) => Number(asObject(o.metadata).resourceVersion ?? 0);

export function serviceIPAllocationController(
  ctx: ControllerContext,
  overrides: Partial<ServiceAllocationOptions> = {},
): ControllerDefinition {
  const options = { ...DEFAULT_SERVICE_ALLOCATION_OPTIONS, ...overrides };
  const ipRange = cidrRange(options.clusterIPCidr);
  const { api, cache } = ctx;
  const recent = new Map<string, RecentWrite>();
  /** Warnings already reported per Service (one Event per cause, not one per reconcile). */
  const warned = new Map<string, { uid: string; seen: Set<string> }>();
  const recorder = ctx.events.newRecorder({ component: SERVICE_ALLOCATION_COMPONENT });

  function warn(svc: JsonObject, reason: string, message: string): void {
    const svcKey = keyString(keyOf(svc));
    const entry = warned.get(svcKey);
    const seen = entry && entry.uid === uidOf(svc) ? entry.seen : new Set<string>();
    if (seen.has(`${reason}|${message}`)) return;
    recorder.event(withTypeMeta(svc, "v1", "Service"), "Warning", reason, message);
    seen.add(`${reason}|${message}`);
    warned.set(svcKey, { uid: uidOf(svc), seen });
  }

  /** Drops our recorded writes that the cache now shows (or whose Service is gone). */
  function pruneRecent(): void {
    for (const [k, w] of recent) {
      const cached = cache.get(SERVICES, parseKey(k));
      if (!cached || uidOf(cached) !== w.uid || revisionOf(cached) >= w.resourceVersion)
        recent.delete(k);
    }
  }

  async function listAllServices(): Promise<JsonObject[]> {
    const items: JsonObject[] = [];
    let next: string | undefined;
    do {
      const page = await api.list({
        resource: SERVICES,
        resourceVersion: "",
        limit: ALLOCATION_LIST_PAGE_SIZE,
        ...(next ? { continue: next } : {}),
      });
      items.push(...page.items);
      next = page.metadata.continue || undefined;
    } while (next);
    return items;
  }

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    pruneRecent();
    const svcKey = keyString(key);
    const svc = cache.get(SERVICES, key);
    if (!svc) {
      warned.delete(svcKey);
      return undefined;
    }
    const cached = cache.list(SERVICES);
    for (const w of allocationWarnings(
      svc,
      cached,
      ipRange,
      options.clusterIPCidr,
      options.nodePortRange,
    ))
      warn(svc, w.reason, w.message);

    const needs = allocationNeeds(svc);
    if (!needs.clusterIP && !needs.clusterIPs && !needs.nodePorts) return undefined;

    // the cache may lag: widen its view with a linearizable list and our unseen writes
    const listed = await listAllServices();
    const current = listed.find((s) => keyString(keyOf(s)) === svcKey);
    if (!current || uidOf(current) !== uidOf(svc)) return undefined; // gone; its events follow
    const fresh = allocationNeeds(current);
    if (!fresh.clusterIP && !fresh.clusterIPs && !fresh.nodePorts) return undefined;
    const usedIPs = new Set<number>();
    const usedPorts = new Set<number>();
    const use = (a: ServiceAllocation) => {
      for (const ip of a.ips) usedIPs.add(ip);
      for (const p of a.nodePorts) usedPorts.add(p);
    };
    for (const s of [...cached, ...listed])
      if (keyString(keyOf(s)) !== svcKey) use(allocationOf(s));
    for (const [k, w] of recent) if (k !== svcKey) use(w.allocation);
    // the Service's own user-chosen NodePorts are not free for its other ports either
    for (const p of allocationOf(current).nodePorts) usedPorts.add(p);

    let ip: string | null = null;
    if (fresh.clusterIP) {
      const n = pickFree(ipRange, usedIPs, options.random(rangeSize(ipRange)));
      if (n === null) {
        warn(
          current,
          "ClusterIPAllocationFailed",
          `no free Cluster IP in ${options.clusterIPCidr}`,
        );
        return { requeueAfterMs: options.rangeFullRetryMs };
      }
      ip = numberToIpv4(n);
    }
    const nextNodePort = () => {
      const n = pickFree(
        options.nodePortRange,
        usedPorts,
        options.random(rangeSize(options.nodePortRange)),
      );
      if (n !== null) usedPorts.add(n);
      return n;
    };
    const next = withAllocation(current, ip, nextNodePort);
    if (!next) {
      const r = options.nodePortRange;
      warn(current, "NodePortAllocationFailed", `no free NodePort in ${r.first}-${r.last}`);
      return { requeueAfterMs: options.rangeFullRetryMs };
    }
    const written = await api.update(SERVICES, next, { namespace: key.namespace });
    recent.set(svcKey, {
      uid: uidOf(written),
      resourceVersion: revisionOf(written),
      allocation: allocationOf(written),
    });
    return undefined;
  }

  return {
    name: "service-ip-allocation",
    primary: SERVICES,
    primaryKind: "Service",
    reconcile,
  };
}
