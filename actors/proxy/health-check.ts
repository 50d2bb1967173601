/**
 * The `healthCheckNodePort` server of a Service with `externalTrafficPolicy: Local`
 * (kube-proxy's pkg/proxy/healthcheck service health server): on the node's address, any GET
 * answers 200 with the count of this node's ready endpoints of the Service, or 503 when it has
 * none, so a load balancer in front of the NodePorts sends traffic only to nodes that can serve
 * it locally. The body is kube-proxy's:
 *
 *   {"service":{"namespace":"default","name":"web"},"localEndpoints":1,"serviceProxyHealthy":true}
 */
import { createServer, type Server } from "node:http";
import type { Clock } from "../system/clock.ts";
import { ListenerSlot } from "./listener-slot.ts";

export class HealthCheckServer {
  private server: Server | null = null;
  private readonly slot: ListenerSlot;
  private localEndpoints = 0;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly service: string,
    clock: Clock,
    retryMs: number,
    onBindError: (error: Error) => void,
  ) {
    this.slot = new ListenerSlot(
      { open: () => this.listen(), close: () => this.stopListening() },
      clock,
      retryMs,
      onBindError,
    );
    this.slot.set(true);
  }

  setLocalEndpoints(count: number): void {
    this.localEndpoints = count;
  }

  isListening(): boolean {
    return this.slot.isOpen();
  }

  close(): void {
    this.slot.set(false);
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const slash = this.service.indexOf("/");
      const server = createServer((req, res) => {
        const body = JSON.stringify({
          service: { namespace: this.service.slice(0, slash), name: this.service.slice(slash + 1) },
          localEndpoints: this.localEndpoints,
          serviceProxyHealthy: true,
        });
        res.writeHead(this.localEndpoints > 0 ? 200 : 503, {
          "content-type": "application/json",
          "x-content-type-options": "nosniff",
          "x-load-balancing-endpoint-weight": String(this.localEndpoints),
        });
        res.end(body);
        req.resume();
      });
      server.once("error", reject);
      server.listen({ host: this.address, port: this.port, exclusive: true }, () => {
        server.removeListener("error", reject);
        server.on("error", () => undefined);
        this.server = server;
        resolve();
      });
    });
  }

  private stopListening(): void {
    this.server?.closeAllConnections();
    this.server?.close();
    this.server = null;
  }
}
