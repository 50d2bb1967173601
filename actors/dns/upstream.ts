/**
 * Forwards a query outside the cluster zone to the host's resolvers (CoreDNS's `forward .
 * /etc/resolv.conf`): the client's bytes as they came, from a fresh UDP socket per query (so
 * the source port is random and the reply's ID is the client's own), each upstream in turn
 * with a timeout on the injected clock. The number of queries in flight is bounded; past it a
 * query is answered SERVFAIL at once instead of queued.
 */
import { createSocket } from "node:dgram";
import type { Clock } from "../system/clock.ts";

export type UpstreamResult =
  | { kind: "reply"; bytes: Buffer }
  | { kind: "failed" }
  | { kind: "busy" };

export interface UpstreamOptions {
  /** `ip` or `ip:port` of each resolver, in order. */
  servers: string[];
  clock: Clock;
  timeoutMs: number;
  maxInFlight: number;
  maxReplyBytes: number;
}

export class Upstream {
  private inFlight = 0;

  constructor(private readonly options: UpstreamOptions) {}

  get configured(): boolean {
    return this.options.servers.length > 0;
  }

  get pending(): number {
    return this.inFlight;
  }

  async forward(query: Buffer): Promise<UpstreamResult> {
    if (this.inFlight >= this.options.maxInFlight) return { kind: "busy" };
    this.inFlight++;
    try {
      for (const server of this.options.servers) {
        const bytes = await this.ask(server, query);
        if (bytes !== null) return { kind: "reply", bytes };
      }
      return { kind: "failed" };
    } finally {
      this.inFlight--;
    }
  }

  private ask(server: string, query: Buffer): Promise<Buffer | null> {
    const [host = "", portText] = server.split(/:(?=\d+$)/);
    const port = portText ? Number(portText) : 53;
    const { clock, timeoutMs, maxReplyBytes } = this.options;
    return new Promise((resolve) => {
      const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
      let done = false;
      const finish = (bytes: Buffer | null) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        socket.close();
        resolve(bytes);
      };
      const timer = clock.setTimeout(() => finish(null), timeoutMs);
      socket.on("error", () => finish(null));
      socket.on("message", (bytes) => {
        // a reply must carry the query's ID (its first two bytes); anything else is not ours
        if (
          bytes.length <= maxReplyBytes &&
          bytes.length >= 2 &&
          bytes.readUInt16BE(0) === query.readUInt16BE(0)
        )
          finish(bytes);
      });
      socket.send(query, port, host, (error) => {
        if (error) finish(null);
      });
    });
  }
}
