/**
 * One service port on one address (a cluster IP, or this node's address for a NodePort) in a
 * kernel mode: the kernel forwards through DNAT rules (kernel-rules.ts); this object decides
 * whether the address:port has rules, and holds it meanwhile.
 *
 * - The address:port is claimed first by a socket of our own (kube-proxy's "port opener" for
 *   NodePorts), and has rules only while the claim is held. The claim never sees a packet
 *   (DNAT on OUTPUT rewrites them before delivery), but it keeps the userspace semantics that
 *   the host relies on: a cluster IP held by another cluster on this host, or by any other
 *   program, is not taken over silently; whoever binds first serves it.
 * - Claimed and ruled only while an endpoint is ready (and, for a cluster IP, while this proxy
 *   holds the host's cluster IPs): with none, nothing listens and no rule matches, so a TCP
 *   client is refused at once and a UDP one gets port unreachable, as in userspace mode.
 * - The rules read the balancer's endpoints and affinity at sync time, so an endpoint change
 *   is one `update` and one batched sync, no rebind.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server } from "node:net";
import type { DnatFrontend } from "./dnat-rules.ts";
import type { DnatSource, KernelRules } from "./kernel-rules.ts";
import { ListenerSlot } from "./listener-slot.ts";
import type { ForwarderGauges } from "./port-stats.ts";
import type { RoundRobin } from "./round-robin.ts";
import type { ProxyProtocol } from "./service-ports.ts";
import type { ForwarderDeps } from "./tcp-forwarder.ts";

export class KernelFrontend implements DnatSource {
  private claim: Server | UdpSocket | null = null;
  private readonly slot: ListenerSlot;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly protocol: ProxyProtocol,
    private readonly balancer: RoundRobin,
    private readonly rules: KernelRules,
    deps: ForwarderDeps,
  ) {
    this.slot = new ListenerSlot(
      { open: () => this.bindClaim(), close: () => this.releaseClaim() },
      deps.clock,
      deps.limits.listenRetryMs,
      (error) =>
        deps.logger.warn({ address: `${address}:${port}`, error: error.message }, "cannot claim"),
    );
    rules.add(this);
  }

  /** Ruled while `wanted` and an endpoint is ready (call again after endpoint changes). */
  update(wanted: boolean): void {
    this.slot.set(wanted && this.balancer.size() > 0);
    this.rules.requestSync();
  }

  isListening(): boolean {
    return this.slot.isOpen() && this.rules.isApplied(this);
  }

  /** Removes its rules and claim; conntrack keeps established TCP connections either way. */
  close(_dropConnections: boolean): void {
    this.slot.set(false);
    this.rules.remove(this);
  }

  gauges(): ForwarderGauges {
    // the kernel forwards: no userspace connections or flows to count
    return { activeConnections: 0, openBytesFromClients: 0, openBytesToClients: 0, udpFlows: 0 };
  }

  dnat(): DnatFrontend | null {
    if (!this.slot.isOpen()) return null;
    return {
      address: this.address,
      port: this.port,
      protocol: this.protocol,
      endpoints: this.balancer.list(),
      affinityTimeoutMs: this.balancer.affinityTimeout(),
    };
  }

  private bindClaim(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.rules.requestSync();
        resolve();
      };
      if (this.protocol === "UDP") {
        const socket = createSocket({ type: "udp4", reuseAddr: false });
        socket.once("error", reject);
        socket.bind({ address: this.address, port: this.port, exclusive: true }, () => {
          socket.removeListener("error", reject);
          socket.on("error", () => undefined);
          this.claim = socket;
          done();
        });
        return;
      }
      // a connection reaching the claim came before its rule did: reset, the client retries
      const server = createServer((socket) => socket.resetAndDestroy());
      server.once("error", reject);
      server.listen({ host: this.address, port: this.port, exclusive: true }, () => {
        server.removeListener("error", reject);
        server.on("error", () => undefined);
        this.claim = server;
        done();
      });
    });
  }

  private releaseClaim(): void {
    this.claim?.close();
    this.claim = null;
    this.rules.requestSync();
  }
}
