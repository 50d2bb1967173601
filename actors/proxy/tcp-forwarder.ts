/**
 * The TCP forwarder of one service port on one address (a cluster IP, or the node's address
 * for a NodePort): kube-proxy userspace's `tcpProxySocket`, in Node streams.
 *
 *   accept (paused) ──▶ dial endpoint (round robin / affinity) ──connected──▶ splice both ways
 *                          │  refused / timed out: the next endpoint, a longer timeout
 *                          └─ none left ──▶ reset the client
 *
 * - Listens only while there is a ready endpoint (ListenerSlot): with none, a client is refused
 *   by the kernel at once instead of hanging.
 * - The client is accepted paused (`pauseOnConnect`), so nothing is read from it until its
 *   endpoint answers: its bytes wait in the kernel, not in our memory.
 * - Source IP: a client on a loopback address (a pod, a node) is dialed from that address
 *   (`localAddress`), so the endpoint sees the real client, as with kube-proxy's iptables DNAT.
 * - Splicing is `pipe()` both ways: backpressure is the streams' (a client that never reads
 *   stops the endpoint being read once a high-water mark is buffered), half-close is kept
 *   (`allowHalfOpen`: one side's FIN becomes `end()` on the other), and an error on either side
 *   resets the other.
 * - At most `maxConnectionsPerServicePort` at once; past it a new client is reset.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import type { Logger } from "pino";
import type { Clock } from "../system/clock.ts";
import type { ProxyLimits } from "./limits.ts";
import { ListenerSlot } from "./listener-slot.ts";
import type { ForwarderGauges, PortStats } from "./port-stats.ts";
import type { RoundRobin } from "./round-robin.ts";

export interface ForwarderDeps {
  clock: Clock;
  limits: ProxyLimits;
  logger: Logger;
  stats: PortStats;
  /** Called each time the forwarder starts listening (the kernel modes then write its rule). */
  onListening?: () => void;
}

/** `::ffff:127.1.2.3` → `127.1.2.3`. */
export function plainIPv4(address: string | undefined): string {
  if (address === undefined) return "";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * What the kernel picks as the source of a connection to a loopback address (`ip route get
 * 127.x.y.z` → `src 127.0.0.1`): a client from it needs no explicit bind.
 */
const LOOPBACK_DEFAULT_SOURCE = "127.0.0.1";

/**
 * The address to dial an endpoint from for a client: the client's own when it is a loopback
 * address (pods and nodes are loopback addresses, all local to this host), else the kernel's.
 * Binding before connecting costs a port search per connection (Node cannot set
 * IP_BIND_ADDRESS_NO_PORT), which slows down sharply once tens of thousands of connections from
 * one address sit in TIME_WAIT; so a client the kernel would give the same source (127.0.0.1)
 * is dialed without it.
 */
export function sourceAddressFor(clientIP: string): string | undefined {
  return clientIP.startsWith("127.") && clientIP !== LOOPBACK_DEFAULT_SOURCE ? clientIP : undefined;
}

function splitAddress(endpoint: string): { ip: string; port: number } {
  const colon = endpoint.lastIndexOf(":");
  return { ip: endpoint.slice(0, colon), port: Number(endpoint.slice(colon + 1)) };
}

/** Errors of binding the client's own address: dial again from the kernel's choice. */
const SOURCE_BIND_ERRORS = new Set(["EADDRNOTAVAIL", "EADDRINUSE", "EINVAL"]);

export class TcpForwarder {
  private server: Server | null = null;
  private readonly connections = new Set<Socket>();
  private readonly slot: ListenerSlot;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly balancer: RoundRobin,
    private readonly deps: ForwarderDeps,
  ) {
    this.slot = new ListenerSlot(
      { open: () => this.listen(), close: () => this.stopListening() },
      deps.clock,
      deps.limits.listenRetryMs,
      (error) =>
        deps.logger.warn({ address: `${address}:${port}`, error: error.message }, "cannot listen"),
    );
  }

  /** Listen while `wanted` and an endpoint is ready (call again after endpoint changes). */
  update(wanted: boolean): void {
    this.slot.set(wanted && this.balancer.size() > 0);
  }

  isListening(): boolean {
    return this.slot.isOpen();
  }

  /** Stops listening; `dropConnections` also resets every open connection (proxy stop). */
  close(dropConnections: boolean): void {
    this.slot.set(false);
    if (dropConnections) for (const c of this.connections) c.destroy();
  }

  gauges(): ForwarderGauges {
    let from = 0;
    let to = 0;
    for (const c of this.connections) {
      from += c.bytesRead;
      to += c.bytesWritten;
    }
    return {
      activeConnections: this.connections.size,
      openBytesFromClients: from,
      openBytesToClients: to,
      udpFlows: 0,
    };
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
      server.on("connection", (client) => this.accept(client));
      server.once("error", reject);
      server.listen({ host: this.address, port: this.port, exclusive: true }, () => {
        server.removeListener("error", reject);
        server.on("error", (error) =>
          this.deps.logger.warn({ error: error.message }, "proxy listener error"),
        );
        this.server = server;
        resolve();
        this.deps.onListening?.();
      });
    });
  }

  private stopListening(): void {
    this.server?.close();
    this.server = null;
  }

  private accept(client: Socket): void {
    const { stats, limits } = this.deps;
    client.on("error", () => undefined); // the splice resets the other side; nothing to log
    if (this.connections.size >= limits.maxConnectionsPerServicePort) {
      stats.connectionsRejected++;
      client.resetAndDestroy();
      return;
    }
    stats.connectionsTotal++;
    this.connections.add(client);
    client.once("close", () => {
      this.connections.delete(client);
      stats.bytesFromClients += client.bytesRead;
      stats.bytesToClients += client.bytesWritten;
    });
    const clientIP = plainIPv4(client.remoteAddress);
    this.dialSomeEndpoint(clientIP, client).then(
      (backend) => {
        if (backend === null) {
          stats.connectionsRejected++;
          if (!client.destroyed) client.resetAndDestroy();
        } else if (client.destroyed) backend.destroy();
        else splice(client, backend);
      },
      () => client.destroy(),
    );
  }

  /** Tries endpoints in balancer order with growing timeouts; null when none answered. */
  private async dialSomeEndpoint(clientIP: string, client: Socket): Promise<Socket | null> {
    const tried = new Set<string>();
    for (const timeoutMs of this.deps.limits.dialTimeoutsMs) {
      if (client.destroyed) return null;
      const endpoint = this.balancer.pick(clientIP, this.deps.clock.nowMs(), tried);
      if (endpoint === null) return null;
      tried.add(endpoint);
      try {
        return await this.dial(endpoint, timeoutMs, sourceAddressFor(clientIP));
      } catch {
        this.deps.stats.dialFailures++;
      }
    }
    return null;
  }

  private dial(endpoint: string, timeoutMs: number, localAddress?: string): Promise<Socket> {
    const { ip, port } = splitAddress(endpoint);
    const { clock } = this.deps;
    return new Promise<Socket>((resolve, reject) => {
      const socket = tcpConnect({
        host: ip,
        port,
        allowHalfOpen: true,
        noDelay: true,
        ...(localAddress !== undefined ? { localAddress } : {}),
      });
      const timer = clock.setTimeout(() => {
        socket.destroy();
        reject(new Error(`dial ${endpoint}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const failed = (error: NodeJS.ErrnoException) => {
        clock.clearTimeout(timer);
        socket.destroy();
        if (localAddress !== undefined && SOURCE_BIND_ERRORS.has(error.code ?? "")) {
          this.dial(endpoint, timeoutMs).then(resolve, reject);
        } else reject(error);
      };
      socket.once("error", failed);
      socket.once("connect", () => {
        clock.clearTimeout(timer);
        socket.removeListener("error", failed);
        resolve(socket);
      });
    });
  }
}

/** Pipes both ways with backpressure; keeps half-closes; an error on one side resets the other. */
function splice(client: Socket, backend: Socket): void {
  backend.on("error", () => {
    if (!client.destroyed) client.resetAndDestroy();
  });
  client.on("error", () => {
    if (!backend.destroyed) backend.resetAndDestroy();
  });
  // A side that closed after its FIN was passed on (the pipe ended the other) leaves the other
  // to flush and finish; one that went away without a FIN takes the other down too
  client.once("close", () => {
    if (!backend.destroyed && !backend.writableEnded) backend.destroy();
  });
  backend.once("close", () => {
    if (!client.destroyed && !client.writableEnded) client.destroy();
  });
  client.pipe(backend);
  backend.pipe(client);
}
