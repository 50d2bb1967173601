/**
 * What the proxy forwards, derived from a Service and its EndpointSlices (kube-proxy's
 * ServicePortMap + EndpointsMap, folded together). Pure: the proxier diffs these per Service.
 *
 * - One `ProxiedPort` per Service port that has a TCP or UDP protocol (SCTP is not proxied);
 *   headless and ExternalName Services have no cluster IP and only NodePorts would remain, which
 *   Kubernetes never allocates for them: they yield nothing.
 * - A slice port matches a Service port by name (discovery.k8s.io: the slice's port carries the
 *   Service port's name and the resolved target port number).
 * - An endpoint is offered new connections only when `ready` (terminating and not-ready ones
 *   keep their existing connections but get no new ones).
 */
import { asObject, type JsonObject } from "../api/json.ts";
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from "./limits.ts";

export type ProxyProtocol = "TCP" | "UDP";

export interface ServiceEndpoint {
  ip: string;
  port: number;
  ready: boolean;
  terminating: boolean;
  nodeName: string | null;
}

export interface ProxiedPort {
  /** `namespace/name:portName/PROTOCOL` (kube-proxy's ServicePortName). */
  key: string;
  /** `namespace/name`. */
  service: string;
  portName: string;
  protocol: ProxyProtocol;
  /** The cluster IP, or null (a Service still waiting for one). */
  clusterIP: string | null;
  port: number;
  nodePort: number | null;
  endpoints: ServiceEndpoint[];
  /** ClientIP session affinity, or null for none. */
  affinityTimeoutMs: number | null;
  /** NodePorts forward only to endpoints on this node when "Local". */
  externalTrafficPolicy: "Cluster" | "Local";
}

/** Where `healthCheckNodePort` answers, for a Service that has one. */
export interface HealthCheckPort {
  service: string;
  port: number;
}

export function servicePortKey(service: string, portName: string, protocol: string): string {
  return `${service}:${portName}/${protocol}`;
}

export function endpointAddress(e: { ip: string; port: number }): string {
  return `${e.ip}:${e.port}`;
}

function proxyProtocol(value: unknown): ProxyProtocol | null {
  const p = value === undefined ? "TCP" : value;
  return p === "TCP" || p === "UDP" ? p : null;
}

function clusterIPOf(spec: JsonObject): string | null {
  const ip = spec.clusterIP;
  return typeof ip === "string" && ip !== "" && ip !== "None" ? ip : null;
}

function isHeadlessOrExternal(spec: JsonObject): boolean {
  return spec.clusterIP === "None" || spec.type === "ExternalName";
}

function affinityTimeoutMs(spec: JsonObject): number | null {
  if (spec.sessionAffinity !== "ClientIP") return null;
  const seconds = asObject(asObject(spec.sessionAffinityConfig).clientIP).timeoutSeconds;
  return (
    (typeof seconds === "number" && seconds > 0 ? seconds : DEFAULT_AFFINITY_TIMEOUT_SECONDS) * 1000
  );
}

/** The endpoints of the slices for the slice port named `portName` with `protocol`, deduplicated. */
export function sliceEndpoints(
  slices: JsonObject[],
  portName: string,
  protocol: ProxyProtocol,
): ServiceEndpoint[] {
  const byAddress = new Map<string, ServiceEndpoint>();
  for (const slice of slices) {
    if (slice.addressType !== undefined && slice.addressType !== "IPv4") continue;
    const ports = (Array.isArray(slice.ports) ? slice.ports : []) as JsonObject[];
    const match = ports.find(
      (p) => (p.name ?? "") === portName && proxyProtocol(p.protocol) === protocol,
    );
    const port = typeof match?.port === "number" ? match.port : null;
    if (port === null) continue;
    for (const e of (Array.isArray(slice.endpoints) ? slice.endpoints : []) as JsonObject[]) {
      const conditions = asObject(e.conditions);
      const terminating = conditions.terminating === true;
      // discovery.k8s.io: a nil `ready` is ready; a terminating endpoint is never ready
      const ready = conditions.ready !== false && !terminating;
      const nodeName = typeof e.nodeName === "string" ? e.nodeName : null;
      for (const ip of (Array.isArray(e.addresses) ? e.addresses : []) as unknown[]) {
        if (typeof ip !== "string") continue;
        const endpoint = { ip, port, ready, terminating, nodeName };
        const address = endpointAddress(endpoint);
        const seen = byAddress.get(address);
        // the same address in two slices (a move between slices): ready wins
        if (seen === undefined || (!seen.ready && ready)) byAddress.set(address, endpoint);
      }
    }
  }
  return [...byAddress.values()].sort((a, b) => (endpointAddress(a) < endpointAddress(b) ? -1 : 1));
}

/** Every proxied port of `service`, with its endpoints from `slices` (the Service's own). */
export function proxiedPortsOf(service: JsonObject, slices: JsonObject[]): ProxiedPort[] {
  const meta = asObject(service.metadata);
  const spec = asObject(service.spec);
  if (isHeadlessOrExternal(spec)) return [];
  const name = `${String(meta.namespace ?? "default")}/${String(meta.name ?? "")}`;
  const out: ProxiedPort[] = [];
  for (const p of (Array.isArray(spec.ports) ? spec.ports : []) as JsonObject[]) {
    const protocol = proxyProtocol(p.protocol);
    if (protocol === null || typeof p.port !== "number") continue;
    const portName = typeof p.name === "string" ? p.name : "";
    out.push({
      key: servicePortKey(name, portName, protocol),
      service: name,
      portName,
      protocol,
      clusterIP: clusterIPOf(spec),
      port: p.port,
      nodePort: typeof p.nodePort === "number" && p.nodePort > 0 ? p.nodePort : null,
      endpoints: sliceEndpoints(slices, portName, protocol),
      affinityTimeoutMs: affinityTimeoutMs(spec),
      externalTrafficPolicy: spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
    });
  }
  return out;
}

/** The Service's health check port: kube-proxy serves it for `externalTrafficPolicy: Local`. */
export function healthCheckPortOf(service: JsonObject): HealthCheckPort | null {
  const meta = asObject(service.metadata);
  const spec = asObject(service.spec);
  const port = spec.healthCheckNodePort;
  if (spec.externalTrafficPolicy !== "Local" || typeof port !== "number" || port <= 0) return null;
  return { service: `${String(meta.namespace ?? "default")}/${String(meta.name ?? "")}`, port };
}
