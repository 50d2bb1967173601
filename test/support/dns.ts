/**
 * DNS for tests and benches: one UDP query from a fresh socket, and a DnsServer on loopback
 * with no upstream (outside the zone: REFUSED) unless one is given.
 */
import { createSocket } from "node:dgram";
import dnsPacket, { type DecodedPacket } from "dns-packet";
import pino from "pino";
import { DnsServer, type QueryObserver } from "../../actors/dns/dns-server.ts";
import { DEFAULT_DNS_LIMITS, type DnsLimits } from "../../actors/dns/limits.ts";
import { Upstream } from "../../actors/dns/upstream.ts";
import type { ZoneRecords, ZoneView } from "../../actors/dns/zone-records.ts";
import { SystemClock } from "../../actors/system/clock.ts";

const clock = new SystemClock();

/** A decoded reply; dns-packet's typings leave out the rcode it decodes. */
export type DnsReply = DecodedPacket & { rcode?: string };

/** Sends `query` over UDP; resolves with the decoded reply, or null after `timeoutMs`. */
export function udpAsk(
  query: Buffer,
  host: string,
  port: number,
  timeoutMs = 500,
): Promise<DnsReply | null> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const timer = clock.setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.on("message", (m) => {
      clock.clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(m) as DnsReply);
    });
    socket.send(query, port, host);
  });
}

/** The data of a reply's answers (addresses for A records). */
export function answerData(reply: DnsReply | null): unknown[] | undefined {
  return reply?.answers?.map((r) => ("data" in r ? r.data : null));
}

export interface TestDnsServerOptions {
  observe?: QueryObserver;
  limits?: Partial<DnsLimits>;
  upstream?: Upstream;
}

/** A DnsServer for `zone` on 127.0.0.1 (not listening until `listen` is called). */
export function testDnsServer(zone: ZoneView, options: TestDnsServerOptions = {}): DnsServer {
  return new DnsServer({
    host: "127.0.0.1",
    zone,
    zoneConfig: { domain: "cluster.local", ttlSeconds: 5 },
    upstream:
      options.upstream ??
      new Upstream({ servers: [], clock, timeoutMs: 100, maxInFlight: 1, maxReplyBytes: 65_535 }),
    limits: { ...DEFAULT_DNS_LIMITS, ...options.limits },
    clock,
    logger: pino({ level: "silent" }),
    observe: options.observe ?? (() => {}),
  });
}

/**
 * Records `big.default`, a headless Service with 60 ready endpoints: its A answer (~1 KB) is
 * past 512 bytes, so over UDP without EDNS it is truncated, over TCP whole.
 */
export function recordBigHeadlessService(zone: ZoneRecords): void {
  zone.recordService({
    metadata: { name: "big", namespace: "default" },
    spec: { clusterIP: "None" },
  });
  zone.recordSlice({
    metadata: {
      name: "big-1",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "big" },
    },
    addressType: "IPv4",
    endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`127.200.1.${i + 1}`] })),
    ports: [],
  });
}
