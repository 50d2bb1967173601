/**
 * The data plane's working part: keeps one forwarder per listener of every load balancer record
 * (`ip:port`, TCP or UDP) and one health prober per backend, and points each forwarder at the
 * healthy backends' NodePorts. `apply` diffs against what runs: an unchanged listener keeps its
 * socket and connections (a record rewritten by a new CCM leader changes nothing on the wire),
 * a changed backend set only changes endpoints.
 *
 * The forwarders are injected (a `ForwarderFactory`): the L4 forwarding is the service proxy's,
 * and a component does not import a sibling; the node composes them (cmd/node/cloud-role.ts).
 */
import type { Clock } from "../../system/clock.ts";
import { BackendHealth, type ProbeTarget } from "./backend-health.ts";
import type { LoadBalancerLimits } from "./limits.ts";
import type { LoadBalancerPort, LoadBalancerRecord } from "./local-cloud-state.ts";

/** One listening `ip:port` forwarding to endpoints (`ip:port`); listens only with endpoints. */
export interface PortForwarder {
  setEndpoints(endpoints: readonly string[]): void;
  isListening(): boolean;
  close(): void;
}

export type ForwarderFactory = (
  protocol: LoadBalancerPort["protocol"],
  address: string,
  port: number,
) => PortForwarder;

interface ServedListener {
  port: LoadBalancerPort;
  forwarder: PortForwarder;
}

interface ServedLoadBalancer {
  record: LoadBalancerRecord;
  listeners: Map<string, ServedListener>;
  /** Backend key (`node|probe`) → its prober. */
  health: Map<string, BackendHealth>;
}

export interface ServedLoadBalancerReport {
  name: string;
  service: string;
  ip: string;
  listeners: { protocol: string; port: number; listening: boolean }[];
  backends: { node: string; healthy: boolean }[];
}

const listenerKey = (p: LoadBalancerPort) => `${p.protocol}/${p.port}`;

function probeTargetOf(record: LoadBalancerRecord, address: string): ProbeTarget | null {
  if (record.healthCheck.kind === "http")
    return { kind: "http", address, port: record.healthCheck.port };
  const first = record.ports.find((p) => p.protocol === "TCP") ?? record.ports[0];
  // a UDP-only LB has nothing to connect to: its backends count as healthy (no probe)
  return first?.protocol === "TCP" ? { kind: "tcp", address, port: first.nodePort } : null;
}

export class LoadBalancerListeners {
  private readonly served = new Map<string, ServedLoadBalancer>();

  constructor(
    private readonly forwarders: ForwarderFactory,
    private readonly clock: Clock,
    private readonly limits: LoadBalancerLimits,
    private readonly onHealthChange: () => void,
  ) {}

  /** Converges on `records` (the whole desired set). */
  apply(records: readonly LoadBalancerRecord[]): void {
    const wanted = new Map(records.slice(0, this.limits.maxLoadBalancers).map((r) => [r.name, r]));
    for (const [name, lb] of this.served)
      if (wanted.get(name)?.ip !== lb.record.ip) this.close(name);
    for (const record of wanted.values()) this.serve(record);
  }

  /** Re-points every forwarder at its LB's healthy backends (after a health flip). */
  refreshEndpoints(): void {
    for (const lb of this.served.values()) this.pointAtBackends(lb);
  }

  closeAll(): void {
    for (const name of [...this.served.keys()]) this.close(name);
  }

  report(): ServedLoadBalancerReport[] {
    return [...this.served.values()].map((lb) => ({
      name: lb.record.name,
      service: lb.record.service,
      ip: lb.record.ip,
      listeners: [...lb.listeners.values()].map((l) => ({
        protocol: l.port.protocol,
        port: l.port.port,
        listening: l.forwarder.isListening(),
      })),
      backends: lb.record.backends.map((b) => ({
        node: b.node,
        healthy: this.isHealthy(lb, b.node, b.address),
      })),
    }));
  }

  private serve(record: LoadBalancerRecord): void {
    const lb = this.served.get(record.name) ?? {
      record,
      listeners: new Map<string, ServedListener>(),
      health: new Map<string, BackendHealth>(),
    };
    lb.record = record;
    this.served.set(record.name, lb);
    const ports = new Map(record.ports.map((p) => [listenerKey(p), p]));
    for (const [key, listener] of lb.listeners) {
      if (ports.has(key)) continue;
      listener.forwarder.close();
      lb.listeners.delete(key);
    }
    for (const [key, port] of ports) {
      const listener = lb.listeners.get(key);
      if (listener) listener.port = port;
      else
        lb.listeners.set(key, {
          port,
          forwarder: this.forwarders(port.protocol, record.ip, port.port),
        });
    }
    const probes = new Map<string, ProbeTarget>();
    for (const b of record.backends) {
      const target = probeTargetOf(record, b.address);
      if (target) probes.set(healthKey(b.node, target), target);
    }
    for (const [key, prober] of lb.health) {
      if (probes.has(key)) continue;
      prober.stop();
      lb.health.delete(key);
    }
    for (const [key, target] of probes)
      if (!lb.health.has(key))
        lb.health.set(
          key,
          new BackendHealth(target, this.clock, this.limits, () => this.onHealthChange()),
        );
    this.pointAtBackends(lb);
  }

  private isHealthy(lb: ServedLoadBalancer, node: string, address: string): boolean {
    const target = probeTargetOf(lb.record, address);
    return target === null || lb.health.get(healthKey(node, target))?.healthy() === true;
  }

  private pointAtBackends(lb: ServedLoadBalancer): void {
    const healthy = lb.record.backends.filter((b) => this.isHealthy(lb, b.node, b.address));
    for (const { port, forwarder } of lb.listeners.values())
      forwarder.setEndpoints(healthy.map((b) => `${b.address}:${port.nodePort}`));
  }

  private close(name: string): void {
    const lb = this.served.get(name);
    if (!lb) return;
    for (const l of lb.listeners.values()) l.forwarder.close();
    for (const prober of lb.health.values()) prober.stop();
    this.served.delete(name);
  }
}

function healthKey(node: string, target: ProbeTarget): string {
  return `${node}|${target.kind}:${target.address}:${target.port}`;
}
