/**
 * The proxy's data plane (kube-proxy's Proxier): the Services and EndpointSlices it was told
 * about, and per service port a round-robin balancer and its forwarders — one on the cluster IP
 * (only while this proxy holds the host's cluster-IP listeners) and one on this node's address
 * for a NodePort — plus a health check server per Service with `healthCheckNodePort`.
 *
 * In a kernel mode (proxy-mode.ts) each forwarder is wrapped in a KernelFrontend: the kernel
 * forwards through DNAT rules, and the userspace forwarder beneath claims the address and
 * serves until the rules are in.
 *
 * `syncService` is incremental: it recomputes one Service's ports (service-ports.ts) and
 * touches only what changed. New endpoints join a balancer without rebinding anything; a
 * listener is recreated only when its address or port changed; other Services are not looked at.
 */
import type { Logger } from "pino";
import { asObject, type JsonObject } from "../api/json.ts";
import { SERVICE_NAME_LABEL } from "../api/well-known.ts";
import type { Clock } from "../system/clock.ts";
import { HealthCheckServer } from "./health-check.ts";
import { KernelFrontend } from "./kernel-frontend.ts";
import { KernelRules } from "./kernel-rules.ts";
import type { ProxyLimits } from "./limits.ts";
import { emptyPortStats, type ForwarderGauges, type PortStats } from "./port-stats.ts";
import type { ProxyMode } from "./proxy-mode.ts";
import { RoundRobin } from "./round-robin.ts";
import {
  endpointAddress,
  healthCheckPortOf,
  type ProxiedPort,
  proxiedPortsOf,
} from "./service-ports.ts";
import { type ForwarderDeps, TcpForwarder } from "./tcp-forwarder.ts";
import { UdpForwarder } from "./udp-forwarder.ts";

export interface ProxierOptions {
  nodeName: string;
  /** This node's own address: NodePorts and health check ports listen here. */
  nodeAddress: string;
  clock: Clock;
  logger: Logger;
  limits: ProxyLimits;
  /** The data path (proxy-mode.ts; default userspace): a kernel mode writes DNAT rules. */
  mode?: ProxyMode;
  /** Names the cluster, so its kernel rules are its own on a shared host (default: none). */
  clusterIdentity?: string;
}

type Forwarder = TcpForwarder | UdpForwarder | KernelFrontend;

interface PortEntry {
  port: ProxiedPort;
  stats: PortStats;
  /** Every ready endpoint: the cluster IP's balancer (and the NodePort's, policy Cluster). */
  cluster: RoundRobin;
  /** Ready endpoints on this node, for a NodePort with `externalTrafficPolicy: Local`. */
  local: RoundRobin | null;
  clusterIPForwarder: Forwarder | null;
  nodePortForwarder: Forwarder | null;
}

/** One service port as `/metrics` and the status show it. */
export interface ServicePortReport extends PortStats, ForwarderGauges {
  key: string;
  service: string;
  portName: string;
  protocol: string;
  clusterIP: string | null;
  port: number;
  nodePort: number | null;
  readyEndpoints: number;
  clusterIPListening: boolean;
  nodePortListening: boolean;
}

function serviceKeyOf(object: JsonObject): string {
  const meta = asObject(object.metadata);
  return `${String(meta.namespace ?? "default")}/${String(meta.name ?? "")}`;
}

/** The Service an EndpointSlice belongs to (its `kubernetes.io/service-name` label), or null. */
export function sliceServiceKey(slice: JsonObject): string | null {
  const meta = asObject(slice.metadata);
  const name = asObject(meta.labels)[SERVICE_NAME_LABEL];
  return typeof name === "string" && name !== ""
    ? `${String(meta.namespace ?? "default")}/${name}`
    : null;
}

export class Proxier {
  private readonly services = new Map<string, JsonObject>();
  /** Service key → slice key → slice. */
  private readonly slices = new Map<string, Map<string, JsonObject>>();
  private readonly ports = new Map<string, PortEntry>();
  private readonly portsOfService = new Map<string, Set<string>>();
  private readonly healthChecks = new Map<string, HealthCheckServer>();
  private holding = false;
  private stopped = false;
  /** The kernel mode's rule writer, or null in userspace mode. */
  readonly kernelRules: KernelRules | null;

  constructor(private readonly options: ProxierOptions) {
    const mode = options.mode ?? "userspace";
    this.kernelRules =
      mode === "userspace"
        ? null
        : new KernelRules({
            mode,
            clusterIdentity: options.clusterIdentity ?? "",
            nodeName: options.nodeName,
            clock: options.clock,
            logger: options.logger,
            retryMs: options.limits.listenRetryMs,
          });
  }

  get mode(): ProxyMode {
    return this.kernelRules?.mode ?? "userspace";
  }

  // ---- what the informers say (no effect until syncService)

  recordService(service: JsonObject): string {
    const key = serviceKeyOf(service);
    this.services.set(key, service);
    return key;
  }

  forgetService(service: JsonObject): string {
    const key = serviceKeyOf(service);
    this.services.delete(key);
    return key;
  }

  /** Returns the Services the change touches: the slice's, and the one it left (relabelled). */
  recordSlice(slice: JsonObject, previous?: JsonObject): string[] {
    const before = previous ? sliceServiceKey(previous) : null;
    const key = sliceServiceKey(slice);
    const touched: string[] = [];
    if (before !== null && before !== key)
      touched.push(...this.forgetSlice(previous as JsonObject));
    if (key === null) return touched;
    const of = this.slices.get(key) ?? new Map<string, JsonObject>();
    of.set(serviceKeyOf(slice), slice);
    this.slices.set(key, of);
    touched.push(key);
    return touched;
  }

  forgetSlice(slice: JsonObject): string[] {
    const key = sliceServiceKey(slice);
    if (key === null) return [];
    const of = this.slices.get(key);
    of?.delete(serviceKeyOf(slice));
    if (of?.size === 0) this.slices.delete(key);
    return [key];
  }

  knownServices(): string[] {
    return [...new Set([...this.services.keys(), ...this.portsOfService.keys()])];
  }

  // ---- applying it

  /** Brings one Service's listeners and balancers in line with what was recorded. */
  syncService(key: string): void {
    if (this.stopped) return;
    const service = this.services.get(key);
    const desired = service
      ? proxiedPortsOf(service, [...(this.slices.get(key)?.values() ?? [])])
      : [];
    const keep = new Set(desired.map((p) => p.key));
    for (const portKey of this.portsOfService.get(key) ?? []) {
      if (!keep.has(portKey)) this.removePort(portKey);
    }
    for (const port of desired) this.applyPort(port);
    if (keep.size > 0) this.portsOfService.set(key, keep);
    else this.portsOfService.delete(key);
    this.syncHealthCheck(key, service, desired);
  }

  syncAll(): void {
    for (const key of this.knownServices()) this.syncService(key);
  }

  /** This proxy holds the host's cluster-IP listeners (or no longer does). */
  setHolding(holding: boolean): void {
    this.holding = holding;
    // a holder that was SIGKILLed left its cluster-IP rules behind: the new holder removes them
    if (holding)
      this.kernelRules
        ?.deleteStaleRules()
        .catch((error: Error) =>
          this.options.logger.warn({ error: error.message }, "cannot delete stale proxy rules"),
        );
    for (const entry of this.ports.values()) {
      if (holding) entry.clusterIPForwarder?.update(true);
      else entry.clusterIPForwarder?.close(true);
    }
  }

  isHolding(): boolean {
    return this.holding;
  }

  stop(): void {
    this.stopped = true;
    for (const key of [...this.ports.keys()]) this.removePort(key, true);
    for (const hc of this.healthChecks.values()) hc.close();
    this.healthChecks.clear();
    this.kernelRules?.stop();
  }

  report(): ServicePortReport[] {
    return [...this.ports.values()].map((e) => {
      const gauges: ForwarderGauges = {
        activeConnections: 0,
        openBytesFromClients: 0,
        openBytesToClients: 0,
        udpFlows: 0,
      };
      for (const f of [e.clusterIPForwarder, e.nodePortForwarder]) {
        if (f === null) continue;
        const g = f.gauges();
        gauges.activeConnections += g.activeConnections;
        gauges.openBytesFromClients += g.openBytesFromClients;
        gauges.openBytesToClients += g.openBytesToClients;
        gauges.udpFlows += g.udpFlows;
      }
      return {
        key: e.port.key,
        service: e.port.service,
        portName: e.port.portName,
        protocol: e.port.protocol,
        clusterIP: e.port.clusterIP,
        port: e.port.port,
        nodePort: e.port.nodePort,
        readyEndpoints: e.cluster.size(),
        clusterIPListening: e.clusterIPForwarder?.isListening() ?? false,
        nodePortListening: e.nodePortForwarder?.isListening() ?? false,
        ...e.stats,
        ...gauges,
      };
    });
  }

  private applyPort(port: ProxiedPort): void {
    const { limits, nodeName, nodeAddress } = this.options;
    let entry = this.ports.get(port.key);
    if (entry === undefined) {
      entry = {
        port,
        stats: emptyPortStats(),
        cluster: new RoundRobin(port.affinityTimeoutMs, limits.maxAffinityEntriesPerServicePort),
        local: null,
        clusterIPForwarder: null,
        nodePortForwarder: null,
      };
      this.ports.set(port.key, entry);
    }
    const before = entry.port;
    entry.port = port;
    const ready = port.endpoints.filter((e) => e.ready);
    entry.cluster.setAffinityTimeout(port.affinityTimeoutMs);
    entry.cluster.setEndpoints(ready.map(endpointAddress));

    // the NodePort's balancer: this node's endpoints only, for policy Local
    const wantLocal = port.externalTrafficPolicy === "Local" && port.nodePort !== null;
    const hadLocal = entry.local !== null;
    if (wantLocal) {
      entry.local ??= new RoundRobin(
        port.affinityTimeoutMs,
        limits.maxAffinityEntriesPerServicePort,
      );
      entry.local.setAffinityTimeout(port.affinityTimeoutMs);
      entry.local.setEndpoints(ready.filter((e) => e.nodeName === nodeName).map(endpointAddress));
    } else entry.local = null;

    if (
      entry.clusterIPForwarder !== null &&
      (before.clusterIP !== port.clusterIP || before.port !== port.port)
    ) {
      entry.clusterIPForwarder.close(false);
      entry.clusterIPForwarder = null;
    }
    if (port.clusterIP !== null && entry.clusterIPForwarder === null)
      entry.clusterIPForwarder = this.forwarder(
        port,
        port.clusterIP,
        port.port,
        entry.cluster,
        entry.stats,
      );
    entry.clusterIPForwarder?.update(this.holding);

    if (
      entry.nodePortForwarder !== null &&
      (before.nodePort !== port.nodePort || hadLocal !== wantLocal)
    ) {
      entry.nodePortForwarder.close(false);
      entry.nodePortForwarder = null;
    }
    if (port.nodePort !== null && entry.nodePortForwarder === null)
      entry.nodePortForwarder = this.forwarder(
        port,
        nodeAddress,
        port.nodePort,
        entry.local ?? entry.cluster,
        entry.stats,
      );
    entry.nodePortForwarder?.update(true);
  }

  private forwarder(
    port: ProxiedPort,
    address: string,
    listenPort: number,
    balancer: RoundRobin,
    stats: PortStats,
  ): Forwarder {
    const rules = this.kernelRules;
    const deps: ForwarderDeps = {
      clock: this.options.clock,
      limits: this.options.limits,
      logger: this.options.logger.child({ servicePort: port.key }),
      stats,
      // in a kernel mode the listener is the address's claim: its rule follows its bind
      ...(rules !== null ? { onListening: () => rules.requestSync() } : {}),
    };
    const listener =
      port.protocol === "UDP"
        ? new UdpForwarder(address, listenPort, balancer, deps)
        : new TcpForwarder(address, listenPort, balancer, deps);
    return rules === null ? listener : new KernelFrontend(listener, port.protocol, balancer, rules);
  }

  private removePort(key: string, dropConnections = false): void {
    const entry = this.ports.get(key);
    if (entry === undefined) return;
    entry.clusterIPForwarder?.close(dropConnections);
    entry.nodePortForwarder?.close(dropConnections);
    this.ports.delete(key);
  }

  private syncHealthCheck(
    key: string,
    service: JsonObject | undefined,
    ports: ProxiedPort[],
  ): void {
    const wanted = service ? healthCheckPortOf(service) : null;
    let server = this.healthChecks.get(key);
    if (server !== undefined && (wanted === null || server.port !== wanted.port)) {
      server.close();
      this.healthChecks.delete(key);
      server = undefined;
    }
    if (wanted === null) return;
    if (server === undefined) {
      server = new HealthCheckServer(
        this.options.nodeAddress,
        wanted.port,
        key,
        this.options.clock,
        this.options.limits.listenRetryMs,
        (error) =>
          this.options.logger.warn(
            { service: key, port: wanted.port, error: error.message },
            "cannot listen on the health check port",
          ),
      );
      this.healthChecks.set(key, server);
    }
    // kube-proxy counts the Service's local endpoints (addresses), not per port
    const local = new Set<string>();
    for (const p of ports)
      for (const e of p.endpoints)
        if (e.ready && e.nodeName === this.options.nodeName) local.add(e.ip);
    server.setLocalEndpoints(local.size);
  }
}
