/**
 * Forwards a query outside the cluster zone to the host's resolvers (CoreDNS's `forward .
 * /etc/resolv.conf`): the client's bytes as they came, each upstream in turn with a timeout on
 * the injected clock. The number of queries in flight is bounded; past it a query is answered
 * SERVFAIL at once instead of queued.
 *
 * - A query that came over UDP goes over UDP, from a fresh socket (a random source port, and
 *   the reply's ID is the client's own). If the upstream's answer is truncated (TC, RFC 1035
 *   §4.2.1), the same upstream is asked again over TCP (RFC 7766 §5); the whole answer is passed
 *   on when it fits the client's UDP limit, otherwise the truncated one, so the client asks
 *   again over TCP itself.
 * - A query that came over TCP goes over TCP (RFC 7766 §6.2.1: the client chose TCP because an
 *   answer did not fit UDP), one connection per query, length-prefixed (RFC 1035 §4.2.2).
 */
import { createSocket } from "node:dgram";
import { connect } from "node:net";
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

/** How the client asked: over TCP, or over UDP with the largest reply it takes. */
export type ClientTransport = { kind: "tcp" } | { kind: "udp"; maxReplyBytes: number };

/** The TC bit of a message's flags (RFC 1035 §4.1.1): the answer did not fit. */
export function isTruncated(message: Buffer): boolean {
  return message.length >= 4 && (message.readUInt8(2) & 0x02) !== 0;
}

interface Endpoint {
  host: string;
  port: number;
}

function endpointOf(server: string): Endpoint {
  const [host = "", portText] = server.split(/:(?=\d+$)/);
  return { host, port: portText ? Number(portText) : 53 };
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

  async forward(
    query: Buffer,
    client: ClientTransport = { kind: "udp", maxReplyBytes: this.options.maxReplyBytes },
  ): Promise<UpstreamResult> {
    if (this.inFlight >= this.options.maxInFlight) return { kind: "busy" };
    this.inFlight++;
    try {
      for (const server of this.options.servers) {
        const bytes = await this.askOne(endpointOf(server), query, client);
        if (bytes !== null) return { kind: "reply", bytes };
      }
      return { kind: "failed" };
    } finally {
      this.inFlight--;
    }
  }

  private async askOne(
    server: Endpoint,
    query: Buffer,
    client: ClientTransport,
  ): Promise<Buffer | null> {
    if (client.kind === "tcp") return this.askTcp(server, query);
    const reply = await this.askUdp(server, query);
    if (reply === null || !isTruncated(reply)) return reply;
    const whole = await this.askTcp(server, query);
    return whole !== null && whole.length <= client.maxReplyBytes ? whole : reply;
  }

  /** Whether `reply` answers `query`: it carries the query's ID (its first two bytes). */
  private answers(reply: Buffer, query: Buffer): boolean {
    return (
      reply.length <= this.options.maxReplyBytes &&
      reply.length >= 2 &&
      reply.readUInt16BE(0) === query.readUInt16BE(0)
    );
  }

  /**
   * One exchange with a deadline: `run` gets `finish`, which settles it once (a reply, or null:
   * failed), clears the timer and closes the socket through `close`.
   */
  private exchange(
    close: () => void,
    run: (finish: (bytes: Buffer | null) => void) => void,
  ): Promise<Buffer | null> {
    const { clock, timeoutMs } = this.options;
    return new Promise((resolve) => {
      let done = false;
      const finish = (bytes: Buffer | null) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        close();
        resolve(bytes);
      };
      const timer = clock.setTimeout(() => finish(null), timeoutMs);
      run(finish);
    });
  }

  private askUdp({ host, port }: Endpoint, query: Buffer): Promise<Buffer | null> {
    const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
    return this.exchange(
      () => socket.close(),
      (finish) => {
        socket.on("error", () => finish(null));
        socket.on("message", (bytes) => {
          if (this.answers(bytes, query)) finish(bytes);
        });
        socket.send(query, port, host, (error) => {
          if (error) finish(null);
        });
      },
    );
  }

  private askTcp({ host, port }: Endpoint, query: Buffer): Promise<Buffer | null> {
    const { maxReplyBytes } = this.options;
    const socket = connect({ host, port });
    return this.exchange(
      () => socket.destroy(),
      (finish) => {
        let received = Buffer.alloc(0);
        socket.on("error", () => finish(null));
        socket.on("close", () => finish(null));
        socket.on("data", (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
          if (received.length < 2) return;
          const size = received.readUInt16BE(0);
          if (size > maxReplyBytes) return finish(null);
          if (received.length < 2 + size) return;
          const reply = received.subarray(2, 2 + size);
          finish(this.answers(reply, query) ? reply : null);
        });
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(query.length);
        socket.write(Buffer.concat([prefix, query]));
      },
    );
  }
}
