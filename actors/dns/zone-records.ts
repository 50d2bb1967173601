/**
 * What the DNS server knows of the cluster: Services, their EndpointSlices and Pods, reduced
 * to what the Kubernetes DNS specification answers from, and kept by informer events (the
 * watch cache is the only cache: there is no negative cache, so a new Service answers as soon
 * as its watch event lands). Pure: no I/O.
 */
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { SERVICE_NAME_LABEL } from "../api/well-known.ts";

export type ServiceKind = "ClusterIP" | "Headless" | "ExternalName";

export interface ServicePortRecord {
  name: string;
  /** Lower case, as SRV names carry it (`_tcp`). */
  protocol: string;
  port: number;
}

export interface ServiceRecord {
  namespace: string;
  name: string;
  kind: ServiceKind;
  /** The cluster IP (ClusterIP kind), or "". */
  clusterIP: string;
  /** The CNAME target (ExternalName kind), or "". */
  externalName: string;
  ports: ServicePortRecord[];
  /** spec.publishNotReadyAddresses: not-ready endpoints are published too. */
  publishNotReady: boolean;
}

export interface EndpointRecord {
  ip: string;
  /** endpoints[].hostname (set from a pod's `hostname` + `subdomain`), or "". */
  hostname: string;
  ready: boolean;
}

interface SliceRecord {
  /** `namespace/service`. */
  service: string;
  endpoints: EndpointRecord[];
  ports: ServicePortRecord[];
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function portsOf(list: Parameters<typeof asArray>[0]): ServicePortRecord[] {
  return asArray(list)
    .map(asObject)
    .map((p) => ({
      name: asString(p.name),
      protocol: (asString(p.protocol) || "TCP").toLowerCase(),
      port: Number(p.port ?? 0),
    }))
    .filter((p) => p.port > 0);
}

export function serviceRecord(svc: JsonObject): ServiceRecord | null {
  const meta = asObject(svc.metadata);
  const spec = asObject(svc.spec);
  const clusterIP = asString(spec.clusterIP);
  const kind: ServiceKind | null =
    spec.type === "ExternalName"
      ? "ExternalName"
      : clusterIP === "None"
        ? "Headless"
        : clusterIP !== ""
          ? "ClusterIP"
          : null; // not allocated yet: nothing to answer
  if (kind === null) return null;
  return {
    namespace: asString(meta.namespace),
    name: asString(meta.name),
    kind,
    clusterIP: kind === "ClusterIP" ? clusterIP : "",
    externalName: kind === "ExternalName" ? asString(spec.externalName).replace(/\.$/, "") : "",
    ports: portsOf(spec.ports),
    publishNotReady: spec.publishNotReadyAddresses === true,
  };
}

function sliceRecord(slice: JsonObject): SliceRecord | null {
  const meta = asObject(slice.metadata);
  const service = asString(asObject(meta.labels)[SERVICE_NAME_LABEL]);
  if (service === "" || slice.addressType !== "IPv4") return null;
  const endpoints: EndpointRecord[] = [];
  for (const e of asArray(slice.endpoints).map(asObject)) {
    // discovery/v1: a nil `ready` means ready
    const ready = asObject(e.conditions).ready !== false;
    for (const ip of asArray(e.addresses).map(asString))
      if (ip !== "") endpoints.push({ ip, hostname: asString(e.hostname), ready });
  }
  return {
    service: keyOf(asString(meta.namespace), service),
    endpoints,
    ports: portsOf(slice.ports),
  };
}

/** The read side the resolver uses (a fixture in tests). */
export interface ZoneView {
  /** Moves on every change: answers computed at one generation hold until it moves. */
  readonly generation: number;
  service(namespace: string, name: string): ServiceRecord | undefined;
  /** The endpoints of a Service (all its slices), ready or not. */
  endpoints(
    namespace: string,
    name: string,
  ): { endpoints: EndpointRecord[]; ports: ServicePortRecord[] };
  hasNamespaceServices(namespace: string): boolean;
  /** Whether a Pod of `namespace` has `ip` (CoreDNS's `pods verified`). */
  hasPod(namespace: string, ip: string): boolean;
  /** The Services whose cluster IP is `ip`, and the headless Services with an endpoint at `ip`. */
  byAddress(ip: string): {
    services: ServiceRecord[];
    endpoints: { service: ServiceRecord; endpoint: EndpointRecord }[];
  };
}

export class ZoneRecords implements ZoneView {
  generation = 0;
  private readonly services = new Map<string, ServiceRecord>();
  private readonly slices = new Map<string, SliceRecord>();
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly servicesByIP = new Map<string, string>();
  private readonly servicesPerNamespace = new Map<string, number>();
  /** `namespace/ip` → pods holding it (two briefly, while one terminates and one starts). */
  private readonly podIPs = new Map<string, number>();
  private readonly podIPOf = new Map<string, string>();

  recordService(svc: JsonObject): void {
    this.generation++;
    this.forgetService(svc);
    const record = serviceRecord(svc);
    if (record === null) return;
    const key = keyOf(record.namespace, record.name);
    this.services.set(key, record);
    this.servicesPerNamespace.set(
      record.namespace,
      (this.servicesPerNamespace.get(record.namespace) ?? 0) + 1,
    );
    if (record.clusterIP !== "") this.servicesByIP.set(record.clusterIP, key);
  }

  forgetService(svc: JsonObject): void {
    this.generation++;
    const meta = asObject(svc.metadata);
    const key = keyOf(asString(meta.namespace), asString(meta.name));
    const old = this.services.get(key);
    if (old === undefined) return;
    this.services.delete(key);
    const left = (this.servicesPerNamespace.get(old.namespace) ?? 1) - 1;
    if (left > 0) this.servicesPerNamespace.set(old.namespace, left);
    else this.servicesPerNamespace.delete(old.namespace);
    if (old.clusterIP !== "" && this.servicesByIP.get(old.clusterIP) === key)
      this.servicesByIP.delete(old.clusterIP);
  }

  recordSlice(slice: JsonObject): void {
    this.generation++;
    this.forgetSlice(slice);
    const record = sliceRecord(slice);
    if (record === null) return;
    const key = this.sliceKey(slice);
    this.slices.set(key, record);
    const set = this.slicesByService.get(record.service) ?? new Set<string>();
    set.add(key);
    this.slicesByService.set(record.service, set);
  }

  forgetSlice(slice: JsonObject): void {
    this.generation++;
    const key = this.sliceKey(slice);
    const old = this.slices.get(key);
    if (old === undefined) return;
    this.slices.delete(key);
    const set = this.slicesByService.get(old.service);
    set?.delete(key);
    if (set?.size === 0) this.slicesByService.delete(old.service);
  }

  recordPod(pod: JsonObject): void {
    this.generation++;
    this.forgetPod(pod);
    const meta = asObject(pod.metadata);
    const ip = asString(asObject(pod.status).podIP);
    if (ip === "") return;
    const podKey = keyOf(asString(meta.namespace), asString(meta.name));
    const ipKey = keyOf(asString(meta.namespace), ip);
    this.podIPOf.set(podKey, ipKey);
    this.podIPs.set(ipKey, (this.podIPs.get(ipKey) ?? 0) + 1);
  }

  forgetPod(pod: JsonObject): void {
    this.generation++;
    const meta = asObject(pod.metadata);
    const podKey = keyOf(asString(meta.namespace), asString(meta.name));
    const ipKey = this.podIPOf.get(podKey);
    if (ipKey === undefined) return;
    this.podIPOf.delete(podKey);
    const left = (this.podIPs.get(ipKey) ?? 1) - 1;
    if (left > 0) this.podIPs.set(ipKey, left);
    else this.podIPs.delete(ipKey);
  }

  private sliceKey(slice: JsonObject): string {
    const meta = asObject(slice.metadata);
    return keyOf(asString(meta.namespace), asString(meta.name));
  }

  service(namespace: string, name: string): ServiceRecord | undefined {
    return this.services.get(keyOf(namespace, name));
  }

  endpoints(namespace: string, name: string) {
    const endpoints: EndpointRecord[] = [];
    let ports: ServicePortRecord[] = [];
    for (const key of this.slicesByService.get(keyOf(namespace, name)) ?? []) {
      const slice = this.slices.get(key);
      if (slice === undefined) continue;
      endpoints.push(...slice.endpoints);
      if (ports.length === 0) ports = slice.ports;
    }
    return { endpoints, ports };
  }

  hasNamespaceServices(namespace: string): boolean {
    return this.servicesPerNamespace.has(namespace);
  }

  hasPod(namespace: string, ip: string): boolean {
    return this.podIPs.has(keyOf(namespace, ip));
  }

  byAddress(ip: string) {
    const services: ServiceRecord[] = [];
    const key = this.servicesByIP.get(ip);
    const svc = key === undefined ? undefined : this.services.get(key);
    if (svc !== undefined) services.push(svc);
    // PTR queries are rare next to A queries: a scan of the slices rather than another index
    const endpoints: { service: ServiceRecord; endpoint: EndpointRecord }[] = [];
    for (const slice of this.slices.values()) {
      const owner = this.services.get(slice.service);
      if (owner?.kind !== "Headless") continue;
      for (const endpoint of slice.endpoints)
        if (endpoint.ip === ip) endpoints.push({ service: owner, endpoint });
    }
    return { services, endpoints };
  }
}
