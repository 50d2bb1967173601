/**
 * The UDP forwarder of one service port on one address: kube-proxy userspace's
 * `udpProxySocket`. A datagram from a client address with no flow opens one: a socket of its
 * own (bound to the client's address when that is a loopback one, so the endpoint sees the real
 * source) sending to the endpoint the balancer picked; the endpoint's replies go back to the
 * client from the service address. Flows end after `udpIdleTimeoutMs` without traffic (a sweep
 * on the injected clock, due when the oldest flow falls idle), and at once when their endpoint
 * leaves the ready set.
 *
 * Listens only while an endpoint is ready: with none, the kernel answers a datagram with ICMP
 * port unreachable (what kube-proxy's REJECT rule does).
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { TimerId } from "../system/clock.ts";
import { ListenerSlot } from "./listener-slot.ts";
import type { ForwarderGauges } from "./port-stats.ts";
import type { RoundRobin } from "./round-robin.ts";
import { type ForwarderDeps, plainIPv4, sourceAddressFor } from "./tcp-forwarder.ts";
import { UdpFlowTable } from "./udp-flows.ts";

interface Flow {
  socket: Socket;
  endpointIP: string;
  endpointPort: number;
}

export class UdpForwarder {
  private socket: Socket | null = null;
  private readonly flows: UdpFlowTable<Flow>;
  private readonly slot: ListenerSlot;
  private sweepTimer: TimerId | null = null;
  private sweepDueMs = 0;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly balancer: RoundRobin,
    private readonly deps: ForwarderDeps,
  ) {
    this.flows = new UdpFlowTable(
      deps.limits.udpIdleTimeoutMs,
      deps.limits.maxUdpFlowsPerServicePort,
    );
    this.slot = new ListenerSlot(
      { open: () => this.bind(), close: () => this.unbind() },
      deps.clock,
      deps.limits.listenRetryMs,
      (error) =>
        deps.logger.warn({ address: `${address}:${port}`, error: error.message }, "cannot bind"),
    );
  }

  /** Bound while `wanted` and an endpoint is ready; flows to endpoints gone are closed now. */
  update(wanted: boolean): void {
    const live = new Set(this.balancer.list());
    for (const flow of this.flows.dropEndpointsNotIn(live)) closeFlow(flow);
    this.slot.set(wanted && this.balancer.size() > 0);
  }

  isListening(): boolean {
    return this.slot.isOpen();
  }

  /** Stops listening and closes every flow (UDP has no connection to keep). */
  close(_dropConnections: boolean): void {
    this.slot.set(false);
    for (const flow of this.flows.clear()) closeFlow(flow);
    this.stopSweep();
  }

  gauges(): ForwarderGauges {
    return {
      activeConnections: 0,
      openBytesFromClients: 0,
      openBytesToClients: 0,
      udpFlows: this.flows.size(),
    };
  }

  private bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: "udp4" });
      socket.once("error", reject);
      socket.on("message", (message, from) => this.fromClient(message, from));
      socket.bind({ address: this.address, port: this.port, exclusive: true }, () => {
        socket.removeListener("error", reject);
        socket.on("error", (error) =>
          this.deps.logger.warn({ error: error.message }, "udp listener error"),
        );
        this.socket = socket;
        resolve();
        this.deps.onListening?.();
      });
    });
  }

  private unbind(): void {
    this.socket?.close();
    this.socket = null;
  }

  private fromClient(message: Buffer, from: RemoteInfo): void {
    const { clock, stats, limits } = this.deps;
    if (message.length > limits.maxDatagramBytes) return;
    const client = `${from.address}:${from.port}`;
    const now = clock.nowMs();
    let flow = this.flows.get(client);
    if (flow === undefined) {
      const clientIP = plainIPv4(from.address);
      const endpoint = this.balancer.pick(clientIP, now);
      if (endpoint === null) return;
      flow = this.openFlow(client, from, endpoint);
      stats.udpFlowsTotal++;
      for (const evicted of this.flows.add(client, endpoint, flow, now)) closeFlow(evicted);
      this.scheduleSweep();
    } else this.flows.touch(client, now);
    stats.datagramsFromClients++;
    flow.socket.send(message, flow.endpointPort, flow.endpointIP);
  }

  private openFlow(client: string, from: RemoteInfo, endpoint: string): Flow {
    const colon = endpoint.lastIndexOf(":");
    const flow: Flow = {
      socket: createSocket({ type: "udp4" }),
      endpointIP: endpoint.slice(0, colon),
      endpointPort: Number(endpoint.slice(colon + 1)),
    };
    flow.socket.on("message", (reply, sender) => {
      // unconnected: only the endpoint's datagrams are replies
      if (sender.address !== flow.endpointIP || sender.port !== flow.endpointPort) return;
      if (this.flows.get(client) !== flow) return;
      this.flows.touch(client, this.deps.clock.nowMs());
      this.deps.stats.datagramsToClients++;
      this.socket?.send(reply, from.port, from.address);
    });
    flow.socket.on("error", () => {
      // ICMP unreachable from a dead endpoint, or a failed bind: the flow ends; the next
      // datagram from the client opens a new one (to a live endpoint once the slice says so)
      if (this.flows.get(client) === flow) this.flows.remove(client);
      closeFlow(flow);
    });
    const source = sourceAddressFor(plainIPv4(from.address));
    flow.socket.bind(source !== undefined ? { address: source, port: 0 } : { port: 0 });
    return flow;
  }

  private scheduleSweep(): void {
    const due = this.flows.nextExpiryMs();
    if (due === null) {
      this.stopSweep();
      return;
    }
    if (this.sweepTimer !== null && this.sweepDueMs <= due) return;
    this.stopSweep();
    this.sweepDueMs = due;
    // +1: the table expires flows idle for strictly longer than the timeout
    const delay = Math.max(0, due - this.deps.clock.nowMs()) + 1;
    this.sweepTimer = this.deps.clock.setTimeout(() => {
      this.sweepTimer = null;
      for (const flow of this.flows.expire(this.deps.clock.nowMs())) closeFlow(flow);
      this.scheduleSweep();
    }, delay);
  }

  private stopSweep(): void {
    if (this.sweepTimer !== null) this.deps.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }
}

function closeFlow(flow: Flow): void {
  try {
    flow.socket.close();
  } catch {
    // closed already (its error handler got there first)
  }
}
