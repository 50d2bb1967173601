/**
 * The DNS server's sockets (the I/O edge): UDP and TCP on one address and port, each query
 * parsed (dns-message.ts), answered from the zone (resolve.ts) or forwarded (upstream.ts), and
 * the result reported for metrics. TCP messages carry the two-byte length prefix of RFC 1035
 * §4.2.2; a connection may send several queries (RFC 7766 §6.2.1) and is closed when idle.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import type { DecodedPacket } from "dns-packet";
import type { Logger } from "pino";
import type { Clock, TimerId } from "../system/clock.ts";
import { AnswerCache } from "./answer-cache.ts";
import {
  encodeError,
  encodeResponse,
  type ParsedQuery,
  parseQuery,
  udpLimitFor,
} from "./dns-message.ts";
import type { DnsLimits } from "./limits.ts";
import { type Rcode, resolve, type ZoneConfig } from "./resolve.ts";
import type { Upstream } from "./upstream.ts";
import type { ZoneView } from "./zone-records.ts";

/** What one query came to, for metrics: its type, its rcode (or "dropped"), how long it took. */
export type QueryObserver = (type: string, rcode: Rcode | "dropped", seconds: number) => void;

export interface DnsServerOptions {
  host: string;
  zone: ZoneView;
  zoneConfig: ZoneConfig;
  upstream: Upstream;
  limits: DnsLimits;
  clock: Clock;
  logger: Logger;
  observe: QueryObserver;
}

const RCODE_NAMES: Record<number, Rcode> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  5: "REFUSED",
};

/**
 * The socket's "lookup" for a reply's destination: always a sender's address, an IPv4 literal,
 * so it is passed through at once instead of through dns.lookup and a tick per datagram.
 */
function literalAddress(
  address: string,
  _options: unknown,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, 4);
}

export class DnsServer {
  private udp: UdpSocket | null = null;
  private tcp: Server | null = null;
  private readonly connections = new Set<Socket>();
  private readonly cache: AnswerCache;
  port = 0;

  constructor(private readonly options: DnsServerOptions) {
    this.cache = new AnswerCache(options.limits.maxCachedAnswers);
  }

  /** Binds UDP and TCP on `port` (rejects with the bind error, both closed, on failure). */
  async listen(port: number): Promise<void> {
    const { host } = this.options;
    const udp = createSocket({ type: "udp4", reuseAddr: false, lookup: literalAddress });
    const tcp = createServer((socket) => this.accept(socket));
    try {
      await new Promise<void>((ok, fail) => {
        udp.once("error", fail);
        udp.bind(port, host, () => {
          udp.off("error", fail);
          ok();
        });
      });
      await new Promise<void>((ok, fail) => {
        tcp.once("error", fail);
        tcp.listen({ port, host, exclusive: true }, () => {
          tcp.off("error", fail);
          ok();
        });
      });
    } catch (error) {
      udp.close();
      tcp.close();
      throw error;
    }
    udp.on("error", (error) => this.options.logger.warn({ error: String(error) }, "dns udp error"));
    udp.on("message", (bytes, from) => {
      const reply = this.reply(bytes, "udp");
      if (reply instanceof Promise)
        void reply.then((bytes) => this.sendUdp(bytes, from.port, from.address));
      else this.sendUdp(reply, from.port, from.address);
    });
    tcp.on("error", (error) => this.options.logger.warn({ error: String(error) }, "dns tcp error"));
    this.udp = udp;
    this.tcp = tcp;
    this.port = port;
  }

  private sendUdp(reply: Buffer | null, port: number, address: string): void {
    if (reply !== null && this.udp !== null) this.udp.send(reply, port, address);
  }

  /** The UDP port bound (differs from the TCP one only after `listen(0)`, in tests). */
  udpPort(): number {
    return this.udp?.address().port ?? 0;
  }

  tcpPort(): number {
    const address = this.tcp?.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  stop(): void {
    this.udp?.close();
    this.udp = null;
    this.tcp?.close();
    this.tcp = null;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
  }

  /** The reply to `bytes` (null: dropped). Never throws: a bad packet must not crash the node. */
  answer(bytes: Buffer, transport: "udp" | "tcp"): Promise<Buffer | null> {
    return Promise.resolve(this.reply(bytes, transport));
  }

  /**
   * The reply to `bytes`: at once when the zone answers (no promise, no microtask: this is the
   * path of nearly every query), a promise when the query is forwarded upstream.
   */
  private reply(bytes: Buffer, transport: "udp" | "tcp"): Buffer | null | Promise<Buffer | null> {
    const { clock, limits } = this.options;
    const started = clock.nowMs();
    const generation = this.options.zone.generation;
    const key =
      bytes.length >= 12 && bytes.length <= limits.maxQueryBytes
        ? AnswerCache.key(transport, bytes)
        : null;
    const hit = key === null ? undefined : this.cache.get(key, generation);
    if (hit !== undefined) {
      this.observed(hit.type, hit.rcode, started);
      return AnswerCache.reply(hit, bytes);
    }
    const parsed = parseQuery(bytes, limits);
    if (parsed.kind === "drop") {
      this.observed("none", "dropped", started);
      return null;
    }
    try {
      if (parsed.kind === "error") {
        this.observed("none", parsed.rcode, started);
        return encodeError(parsed.packet, parsed.rcode);
      }
      const { packet, question } = parsed;
      const result = resolve(question, this.options.zone, this.options.zoneConfig);
      const udpLimit = transport === "udp" ? udpLimitFor(packet, limits) : null;
      if (result.kind === "answer") {
        const reply = encodeResponse(packet, { ...result, authoritative: true }, udpLimit);
        if (key !== null)
          this.cache.set(key, generation, {
            bytes: reply,
            type: question.type,
            rcode: result.rcode,
          });
        this.observed(question.type, result.rcode, started);
        return reply;
      }
      return this.forward(bytes, packet, question.type, udpLimit, started).catch((error) =>
        this.failed(error, parsed, started),
      );
    } catch (error) {
      return this.failed(error, parsed, started);
    }
  }

  private async forward(
    bytes: Buffer,
    packet: DecodedPacket,
    type: string,
    udpLimit: number | null,
    started: number,
  ): Promise<Buffer | null> {
    if (!this.options.upstream.configured) {
      this.observed(type, "REFUSED", started);
      return encodeError(packet, "REFUSED");
    }
    const forwarded = await this.options.upstream.forward(
      bytes,
      udpLimit === null ? { kind: "tcp" } : { kind: "udp", maxReplyBytes: udpLimit },
    );
    if (forwarded.kind !== "reply") {
      this.observed(type, "SERVFAIL", started);
      return encodeError(packet, "SERVFAIL");
    }
    this.observed(type, RCODE_NAMES[forwarded.bytes.readUInt16BE(2) & 0xf] ?? "SERVFAIL", started);
    return forwarded.bytes;
  }

  /** An answer that does not encode (an ExternalName with a 64-byte label, …): SERVFAIL. */
  private failed(
    error: unknown,
    parsed: Exclude<ParsedQuery, { kind: "drop" }>,
    started: number,
  ): Buffer | null {
    this.options.logger.debug({ error: String(error) }, "dns: query failed");
    this.observed(parsed.kind === "query" ? parsed.question.type : "none", "SERVFAIL", started);
    try {
      return encodeError(parsed.packet, "SERVFAIL");
    } catch {
      return null;
    }
  }

  private observed(type: string, rcode: Rcode | "dropped", startedMs: number): void {
    this.options.observe(type, rcode, (this.options.clock.nowMs() - startedMs) / 1_000);
  }

  private accept(socket: Socket): void {
    const { limits, clock } = this.options;
    if (this.connections.size >= limits.maxTcpConnections) {
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    let pending = Buffer.alloc(0);
    let idle: TimerId | null = null;
    const close = () => {
      if (idle !== null) clock.clearTimeout(idle);
      idle = null;
      this.connections.delete(socket);
      socket.destroy();
    };
    const touch = () => {
      if (idle !== null) clock.clearTimeout(idle);
      idle = clock.setTimeout(close, limits.tcpIdleTimeoutMs);
    };
    touch();
    socket.on("error", close);
    socket.on("close", close);
    socket.on("data", (chunk: Buffer) => {
      touch();
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const size = pending.readUInt16BE(0);
        if (size > limits.maxQueryBytes) return close();
        if (pending.length < 2 + size) break;
        const message = pending.subarray(2, 2 + size);
        pending = pending.subarray(2 + size);
        void this.answer(Buffer.from(message), "tcp").then((reply) => {
          if (reply === null || socket.destroyed) return;
          if (reply.length > limits.maxTcpMessageBytes) return close();
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        });
      }
      if (pending.length > limits.maxQueryBytes + 2) close();
    });
  }
}
