/**
 * The `local` cloud provider: a cloud simulated on this host, its state in a directory
 * (local-cloud-state.ts). Load balancers are records the data plane (load-balancer-data-plane.ts)
 * turns into real listeners on external IPs from a loopback pool; instances are the node
 * processes; zones come from the configuration; routes are a table. Clusters: not supported.
 */
import { cidrRange, ipv4ToNumber, numberToIpv4, pickFree } from "../../api/allocation-range.ts";
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import {
  type CloudProvider,
  defaultLoadBalancerName,
  type InstanceMetadata,
  type InstancesV2,
  type LoadBalancer,
  type LoadBalancerStatus,
  LoadBalancerUnavailableError,
  type NodeAddress,
  type Route,
  type Routes,
  type Zone,
  type Zones,
} from "../cloud-provider.ts";
import { instanceState } from "./instance-process.ts";
import {
  type HealthCheck,
  type LoadBalancerBackend,
  type LoadBalancerPort,
  type LoadBalancerRecord,
  LocalCloudState,
} from "./local-cloud-state.ts";

export const LOCAL_PROVIDER_NAME = "local";

function nameOf(o: JsonObject): string {
  return asString(asObject(o.metadata).name);
}

function serviceKey(svc: JsonObject): string {
  const meta = asObject(svc.metadata);
  return `${asString(meta.namespace) || "default"}/${asString(meta.name)}`;
}

/** The Service's ports as LB listeners, each forwarding to its NodePort. */
export function listenersOf(svc: JsonObject): LoadBalancerPort[] {
  return asArray(asObject(svc.spec).ports)
    .map(asObject)
    .filter((p) => typeof p.nodePort === "number")
    .map((p) => ({
      ...(typeof p.name === "string" && p.name !== "" ? { name: p.name } : {}),
      protocol: p.protocol === "UDP" ? "UDP" : "TCP",
      port: p.port as number,
      nodePort: p.nodePort as number,
    }));
}

/** kube-proxy's health server under `externalTrafficPolicy: Local`, else the NodePort itself. */
export function healthCheckOf(svc: JsonObject): HealthCheck {
  const spec = asObject(svc.spec);
  return spec.externalTrafficPolicy === "Local" && typeof spec.healthCheckNodePort === "number"
    ? { kind: "http", port: spec.healthCheckNodePort }
    : { kind: "tcp" };
}

export function internalIPOf(node: JsonObject): string | null {
  for (const a of asArray(asObject(node.status).addresses).map(asObject))
    if (a.type === "InternalIP" && typeof a.address === "string") return a.address;
  return null;
}

function backendsOf(nodes: readonly JsonObject[]): LoadBalancerBackend[] {
  const backends: LoadBalancerBackend[] = [];
  for (const node of nodes) {
    const address = internalIPOf(node);
    if (address !== null) backends.push({ node: nameOf(node), address });
  }
  return backends.sort((a, b) => a.node.localeCompare(b.node));
}

const listenerId = (p: { protocol: string; port: number }) => `${p.protocol}-${p.port}`;

export function statusOf(record: LoadBalancerRecord): LoadBalancerStatus {
  return {
    ingress: [
      {
        ip: record.ip,
        ipMode: "VIP",
        ports: record.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
      },
    ],
  };
}

class LocalLoadBalancers implements LoadBalancer {
  constructor(private readonly state: LocalCloudState) {}

  getLoadBalancerName(_clusterName: string, service: JsonObject): string {
    return defaultLoadBalancerName(service);
  }

  async getLoadBalancer(clusterName: string, service: JsonObject) {
    const record = this.state.loadBalancer(this.getLoadBalancerName(clusterName, service));
    return record === null ? null : statusOf(record);
  }

  async ensureLoadBalancer(
    clusterName: string,
    service: JsonObject,
    nodes: readonly JsonObject[],
  ): Promise<LoadBalancerStatus> {
    const name = this.getLoadBalancerName(clusterName, service);
    const ports = listenersOf(service);
    const existing = this.state.loadBalancer(name);
    const requested = asString(asObject(service.spec).loadBalancerIP);
    const keepIp =
      existing !== null && (requested === "" || requested === existing.ip) ? existing.ip : null;
    const ip = keepIp ?? this.allocate(name, ports, requested);
    if (keepIp !== null) this.claimAll(ip, name, ports);
    if (existing !== null && existing.ip !== ip) this.state.releaseClaims(existing.ip, name);
    // listeners the Service no longer has are given back
    this.state.releaseClaims(ip, name, new Set(ports.map(listenerId)));
    const record: LoadBalancerRecord = {
      name,
      cluster: clusterName,
      service: serviceKey(service),
      serviceUid: asString(asObject(service.metadata).uid),
      ip,
      ports,
      backends: backendsOf(nodes),
      healthCheck: healthCheckOf(service),
    };
    this.state.putLoadBalancer(record);
    return statusOf(record);
  }

  async updateLoadBalancer(
    clusterName: string,
    service: JsonObject,
    nodes: readonly JsonObject[],
  ): Promise<void> {
    const existing = this.state.loadBalancer(this.getLoadBalancerName(clusterName, service));
    if (existing === null) return;
    this.state.putLoadBalancer({ ...existing, backends: backendsOf(nodes) });
  }

  async ensureLoadBalancerDeleted(clusterName: string, service: JsonObject): Promise<void> {
    const name = this.getLoadBalancerName(clusterName, service);
    const existing = this.state.loadBalancer(name);
    // the record first: the data plane closes the listeners before the claims are free again
    this.state.deleteLoadBalancer(name);
    if (existing !== null) this.state.releaseClaims(existing.ip, name);
  }

  /**
   * Claims every listener on `ip` for `name`, or none: on a clash, the claims this call created
   * are given back (those the LB already held stay: its record still serves them).
   */
  private claimAll(ip: string, name: string, ports: readonly LoadBalancerPort[]): void {
    const created: LoadBalancerPort[] = [];
    for (const p of ports) {
      const outcome = this.state.claim(ip, p.protocol, p.port, name);
      if (outcome === "created") created.push(p);
      if (outcome !== "taken") continue;
      for (const c of created) this.state.releaseClaim(ip, c.protocol, c.port, name);
      const holder = this.state.claimHolder(ip, p.protocol, p.port);
      const other = holder === null ? null : this.state.loadBalancer(holder);
      throw new LoadBalancerUnavailableError(
        "PortClash",
        `port ${p.protocol}/${p.port} of ${ip} is already used by ${other ? `the load balancer of Service ${other.service}` : `load balancer ${holder}`}`,
      );
    }
  }

  private allocate(name: string, ports: readonly LoadBalancerPort[], requested: string): string {
    const { pool } = this.state.config();
    const range = cidrRange(pool);
    if (requested !== "") {
      const n = ipv4ToNumber(requested);
      if (n === null || n < range.first || n > range.last)
        throw new LoadBalancerUnavailableError(
          "InvalidLoadBalancerIP",
          `loadBalancerIP ${requested} is not in the external IP pool ${pool}`,
        );
      this.claimAll(requested, name, ports);
      return requested;
    }
    const used = new Set<number>();
    for (const ip of this.state.claimedIps()) used.add(ipv4ToNumber(ip) ?? -1);
    for (;;) {
      const candidate = pickFree(range, used, 0);
      if (candidate === null)
        throw new LoadBalancerUnavailableError(
          "ExternalIPPoolExhausted",
          `no external IP left: all ${range.last - range.first + 1} addresses of the pool ${pool} are in use`,
        );
      const ip = numberToIpv4(candidate);
      try {
        this.claimAll(ip, name, ports);
        return ip;
      } catch (error) {
        // another load balancer took this address a moment ago: the next one
        if (!(error instanceof LoadBalancerUnavailableError)) throw error;
        used.add(candidate);
      }
    }
  }
}

class LocalInstances implements InstancesV2, Zones {
  constructor(private readonly state: LocalCloudState) {}

  async instanceExists(node: JsonObject): Promise<boolean> {
    return this.state.instance(nameOf(node)) !== null;
  }

  async instanceShutdown(node: JsonObject): Promise<boolean> {
    const record = this.state.instance(nameOf(node));
    return record !== null && instanceState(record.pid, record.startTicks) === "stopped";
  }

  async instanceMetadata(node: JsonObject): Promise<InstanceMetadata> {
    const id = nameOf(node);
    const record = this.state.instance(id);
    if (record === null) throw new Error(`local cloud: no instance ${id}`);
    const zone = await this.getZoneByNodeName(id);
    const addresses: NodeAddress[] = [
      { type: "InternalIP", address: record.address },
      { type: "Hostname", address: id },
    ];
    return {
      providerID: `${LOCAL_PROVIDER_NAME}://${id}`,
      instanceType: this.state.config().instanceType,
      nodeAddresses: addresses,
      zone: zone.failureDomain,
      region: zone.region,
    };
  }

  async getZoneByNodeName(nodeName: string): Promise<Zone> {
    const config = this.state.config();
    // one zone per node by default: spreading across zones then means across nodes
    return {
      failureDomain: config.zones[nodeName] ?? `${config.region}-${nodeName}`,
      region: config.region,
    };
  }

  async getZoneByProviderID(providerID: string): Promise<Zone> {
    const prefix = `${LOCAL_PROVIDER_NAME}://`;
    if (!providerID.startsWith(prefix)) throw new Error(`not a local providerID: ${providerID}`);
    return this.getZoneByNodeName(providerID.slice(prefix.length));
  }
}

class LocalRoutes implements Routes {
  constructor(private readonly state: LocalCloudState) {}

  async listRoutes(clusterName: string): Promise<Route[]> {
    return this.state
      .routes()
      .filter((r) => r.cluster === clusterName)
      .map(({ name, targetNode, destinationCIDR }) => ({ name, targetNode, destinationCIDR }));
  }

  async createRoute(clusterName: string, nameHint: string, route: Route): Promise<void> {
    this.state.putRoute({
      name: `${clusterName}-${nameHint}`,
      cluster: clusterName,
      targetNode: route.targetNode,
      destinationCIDR: route.destinationCIDR,
    });
  }

  async deleteRoute(_clusterName: string, route: Route): Promise<void> {
    this.state.deleteRoute(route.name);
  }
}

export class LocalCloudProvider implements CloudProvider {
  private readonly lbs: LocalLoadBalancers;
  private readonly instances: LocalInstances;
  private readonly routeTable: LocalRoutes;

  constructor(readonly state: LocalCloudState) {
    this.lbs = new LocalLoadBalancers(state);
    this.instances = new LocalInstances(state);
    this.routeTable = new LocalRoutes(state);
  }

  providerName(): string {
    return LOCAL_PROVIDER_NAME;
  }

  hasClusterID(): boolean {
    return true;
  }

  loadBalancer(): LoadBalancer {
    return this.lbs;
  }

  instancesV2(): InstancesV2 {
    return this.instances;
  }

  zones(): Zones {
    return this.instances;
  }

  clusters(): null {
    return null;
  }

  routes(): Routes {
    return this.routeTable;
  }
}

/** The factory the registry holds: `{"stateDir": "..."}` names the cloud's directory. */
export function localCloudProvider(config: JsonObject): CloudProvider {
  const dir = asString(config.stateDir);
  if (dir === "") throw new Error("the local cloud provider needs stateDir in its config");
  return new LocalCloudProvider(new LocalCloudState(dir));
}
