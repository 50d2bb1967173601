/**
 * What a Service holds of the two ranges Services draw from — cluster IPs and NodePorts — and
 * how a write picks the values it lacks (kube-apiserver's Service REST storage with its
 * ipallocator and portallocator). Pure: what is taken and where a scan starts come in; the API
 * server turns a plan into store keys written in the Service's own txn, and the repair
 * controller reads Services through the same functions.
 *
 * - A ClusterIP, NodePort or LoadBalancer Service without `spec.clusterIP` gets a free address
 *   of the cluster IP range in `clusterIP` and `clusterIPs`; headless (`None`) and ExternalName
 *   Services get none. The range's first address is reserved for the `kubernetes` Service and
 *   its `.10` for `kube-dns`: only asked for by name, never picked.
 * - Ports of NodePort and LoadBalancer Services without a `nodePort` get a free one (ports with
 *   the same number share one, as TCP and UDP of one port do).
 * - A LoadBalancer Service with `externalTrafficPolicy: Local` gets a `healthCheckNodePort` from
 *   the NodePort range (the port load balancers ask whether a node has local endpoints); it is
 *   released when the Service stops needing it.
 * - A value the Service starts holding that it chose itself must be in range and not taken:
 *   otherwise a field error, worded as kube-apiserver's.
 */
import {
  cidrRange,
  type IntRange,
  inRange,
  ipv4ToNumber,
  numberToIpv4,
  pickFree,
  rangeSize,
} from "./allocation-range.ts";
import { type FieldError, invalid } from "./field-error.ts";
import { asArray, asObject, asString, type JsonObject } from "./json.ts";
import { KUBE_DNS_SERVICE_IP_OFFSET } from "./well-known.ts";

/** `spec.clusterIP` of a headless Service. */
export const CLUSTER_IP_NONE = "None";

/** Kubernetes' `--service-node-port-range` default. */
export const DEFAULT_NODE_PORT_RANGE: IntRange = { first: 30_000, last: 32_767 };

const ALLOCATING_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"];

/** The two ranges, and the addresses no Service is given unless it names them. */
export interface ServiceRanges {
  /** The cluster IP CIDR as configured (for messages). */
  cidr: string;
  ips: IntRange;
  nodePorts: IntRange;
  reservedIPs: ReadonlySet<number>;
}

/**
 * The ranges for a cluster IP CIDR and a NodePort range, its first address reserved (for the
 * `kubernetes` Service, as kube-apiserver gives it the first one) and its `.10` (for the
 * `kube-dns` Service, as kubeadm's cluster DNS address), when the range holds one.
 */
export function serviceRanges(cidr: string, nodePorts: IntRange): ServiceRanges {
  const ips = cidrRange(cidr);
  const reserved = [ips.first, ips.first + KUBE_DNS_SERVICE_IP_OFFSET].filter((n) =>
    inRange(ips, n),
  );
  return { cidr, ips, nodePorts, reservedIPs: new Set(reserved) };
}

/** What a Service holds of both ranges (as numbers; unparsable values hold nothing). */
export interface ServiceAllocation {
  ips: number[];
  nodePorts: number[];
}

export const NO_ALLOCATION: ServiceAllocation = { ips: [], nodePorts: [] };

export function serviceType(svc: JsonObject): string {
  return asString(asObject(svc.spec).type) || "ClusterIP";
}

export function allocationOf(svc: JsonObject): ServiceAllocation {
  const spec = asObject(svc.spec);
  const ips = new Set<number>();
  for (const raw of [spec.clusterIP, ...asArray(spec.clusterIPs)]) {
    const n = ipv4ToNumber(asString(raw)); // `None` and "" hold nothing
    if (n !== null) ips.add(n);
  }
  const nodePorts = new Set<number>();
  for (const p of asArray(spec.ports).map(asObject)) if (hasNodePort(p)) nodePorts.add(p.nodePort);
  const healthCheck = healthCheckNodePortOf(svc);
  if (healthCheck !== null) nodePorts.add(healthCheck);
  return { ips: [...ips], nodePorts: [...nodePorts] };
}

/** kube-apiserver's `needsHCNodePort`: a LoadBalancer whose traffic stays on local endpoints. */
export function wantsHealthCheckNodePort(svc: JsonObject): boolean {
  return (
    serviceType(svc) === "LoadBalancer" && asObject(svc.spec).externalTrafficPolicy === "Local"
  );
}

function healthCheckNodePortOf(svc: JsonObject): number | null {
  const port = asObject(svc.spec).healthCheckNodePort;
  return typeof port === "number" && port > 0 ? port : null;
}

export function wantsNodePorts(svc: JsonObject): boolean {
  const type = serviceType(svc);
  return (
    type === "NodePort" ||
    (type === "LoadBalancer" && asObject(svc.spec).allocateLoadBalancerNodePorts !== false)
  );
}

function hasNodePort(p: JsonObject): p is JsonObject & { nodePort: number } {
  return typeof p.nodePort === "number" && p.nodePort > 0;
}

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
      (wantsNodePorts(svc) &&
        asArray(spec.ports)
          .map(asObject)
          .some((p) => !hasNodePort(p))) ||
      (wantsHealthCheckNodePort(svc) && healthCheckNodePortOf(svc) === null),
  };
}

export function needsAllocation(svc: JsonObject): boolean {
  const n = allocationNeeds(svc);
  return n.clusterIP || n.clusterIPs || n.nodePorts;
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
    for (const p of ports) if (hasNodePort(p)) byPort.set(Number(p.port), p.nodePort);
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
  if (wantsHealthCheckNodePort(svc) && healthCheckNodePortOf(svc) === null) {
    const port = nextNodePort();
    if (port === null) return null;
    spec.healthCheckNodePort = port;
  }
  return { ...svc, spec };
}

/**
 * The Service strategy's `dropTypeDependentFields` on update: a type change that no longer
 * uses the cluster IP (→ ExternalName) or the NodePorts (→ ClusterIP, ExternalName) drops those
 * the user left as they were, so that `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` works
 * and the values are released.
 */
export function dropTypeDependentFields(next: JsonObject, old: JsonObject): JsonObject {
  const spec = { ...asObject(next.spec) };
  // a type or traffic policy that no longer needs the health check port it held drops it
  if (
    !wantsHealthCheckNodePort(next) &&
    healthCheckNodePortOf(next) !== null &&
    healthCheckNodePortOf(next) === healthCheckNodePortOf(old)
  )
    delete spec.healthCheckNodePort;
  if (serviceType(next) === serviceType(old)) return { ...next, spec };
  const oldSpec = asObject(old.spec);
  if (!ALLOCATING_TYPES.includes(serviceType(next)) && spec.clusterIP === oldSpec.clusterIP) {
    delete spec.clusterIP;
    delete spec.clusterIPs;
    delete spec.ipFamilies;
    delete spec.ipFamilyPolicy;
  }
  if (!wantsNodePorts(next) && wantsNodePorts(old)) {
    const held = new Set(allocationOf(old).nodePorts);
    spec.ports = asArray(spec.ports)
      .map(asObject)
      .map((p) => {
        if (!hasNodePort(p) || !held.has(p.nodePort)) return p;
        const { nodePort: _dropped, ...rest } = p;
        return rest;
      });
  }
  return { ...next, spec };
}

/** Values held by other Services (or their allocation keys). */
export interface TakenValues {
  ips: ReadonlySet<number>;
  nodePorts: ReadonlySet<number>;
}

export interface AllocationPlan {
  /** The Service with every value it needs. */
  object: JsonObject;
  /** Values it starts holding with this write (picked, or chosen by the user). */
  claimed: ServiceAllocation;
  /** Values it held before this write and no longer does. */
  released: ServiceAllocation;
}

export type AllocationResult =
  | { kind: "ok"; plan: AllocationPlan }
  | { kind: "invalid"; errors: FieldError[] }
  /** The range has no free value left (kube-apiserver: `range is full`). */
  | { kind: "full"; range: "serviceIP" | "nodePort" };

const minus = (a: readonly number[], b: readonly number[]) => a.filter((v) => !b.includes(v));

/**
 * The values `next` (a create when `old` is null, else an update of `old`) ends up holding;
 * `random(bound)` is where a scan for a free value starts, in [0, bound).
 */
export function planAllocation(
  next: JsonObject,
  old: JsonObject | null,
  taken: TakenValues,
  ranges: ServiceRanges,
  random: (bound: number) => number,
): AllocationResult {
  const chosen = allocationOf(next);
  const needs = allocationNeeds(next);
  let ip: string | null = null;
  if (needs.clusterIP) {
    const used = new Set([...taken.ips, ...ranges.reservedIPs, ...chosen.ips]);
    const n = pickFree(ranges.ips, used, random(rangeSize(ranges.ips)));
    if (n === null) return { kind: "full", range: "serviceIP" };
    ip = numberToIpv4(n);
  }
  const usedPorts = new Set([...taken.nodePorts, ...chosen.nodePorts]);
  const picked = new Set<number>();
  const object = withAllocation(next, ip, () => {
    const n = pickFree(ranges.nodePorts, usedPorts, random(rangeSize(ranges.nodePorts)));
    if (n !== null) {
      usedPorts.add(n);
      picked.add(n);
    }
    return n;
  });
  if (object === null) return { kind: "full", range: "nodePort" };
  const before = old === null ? NO_ALLOCATION : allocationOf(old);
  const after = allocationOf(object);
  const claimed = {
    ips: minus(after.ips, before.ips),
    nodePorts: minus(after.nodePorts, before.nodePorts),
  };
  const errors = chosenValueErrors(object, claimed, ip, picked, taken, ranges);
  if (errors.length > 0) return { kind: "invalid", errors };
  return {
    kind: "ok",
    plan: {
      object,
      claimed,
      released: {
        ips: minus(before.ips, after.ips),
        nodePorts: minus(before.nodePorts, after.nodePorts),
      },
    },
  };
}

/** kube-apiserver's messages for a value the user chose that is taken or out of range. */
function chosenValueErrors(
  svc: JsonObject,
  claimed: ServiceAllocation,
  pickedIP: string | null,
  pickedPorts: ReadonlySet<number>,
  taken: TakenValues,
  ranges: ServiceRanges,
): FieldError[] {
  const errors: FieldError[] = [];
  const spec = asObject(svc.spec);
  for (const n of claimed.ips) {
    const text = numberToIpv4(n);
    if (text === pickedIP) continue;
    const value = asArray(spec.clusterIPs).map(asString);
    if (!inRange(ranges.ips, n))
      errors.push(
        invalid(
          "spec.clusterIPs",
          value,
          `failed to allocate IP ${text}: the provided IP (${text}) is not in the valid range. The range of valid IPs is ${ranges.cidr}`,
        ),
      );
    else if (taken.ips.has(n))
      errors.push(
        invalid(
          "spec.clusterIPs",
          value,
          `failed to allocate IP ${text}: provided IP is already allocated`,
        ),
      );
  }
  const reported = new Set<number>();
  asArray(spec.ports)
    .map(asObject)
    .forEach((p, i) => {
      if (!hasNodePort(p) || pickedPorts.has(p.nodePort) || reported.has(p.nodePort)) return;
      if (!claimed.nodePorts.includes(p.nodePort)) return;
      const field = `spec.ports[${i}].nodePort`;
      const r = ranges.nodePorts;
      if (!inRange(r, p.nodePort))
        errors.push(
          invalid(
            field,
            p.nodePort,
            `provided port is not in the valid range. The range of valid ports is ${r.first}-${r.last}`,
          ),
        );
      else if (taken.nodePorts.has(p.nodePort))
        errors.push(invalid(field, p.nodePort, "provided port is already allocated"));
      reported.add(p.nodePort);
    });
  const healthCheck = healthCheckNodePortOf(svc);
  if (
    healthCheck !== null &&
    !pickedPorts.has(healthCheck) &&
    !reported.has(healthCheck) &&
    claimed.nodePorts.includes(healthCheck)
  ) {
    const r = ranges.nodePorts;
    if (!inRange(r, healthCheck))
      errors.push(
        invalid(
          "spec.healthCheckNodePort",
          healthCheck,
          `provided port is not in the valid range. The range of valid ports is ${r.first}-${r.last}`,
        ),
      );
    else if (taken.nodePorts.has(healthCheck))
      errors.push(
        invalid("spec.healthCheckNodePort", healthCheck, "provided port is already allocated"),
      );
  }
  return errors;
}
