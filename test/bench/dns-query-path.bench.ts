/**
 * `npx tsx test/bench/dns-query-path.bench.ts`: the DNS server's query path in one process, no
 * sockets, so a profile shows where a query's time goes: a cache hit, a miss (decode, resolve,
 * encode), and the metrics observer's share.
 */
import dnsPacket from "dns-packet";
import { Registry } from "prom-client";
import { registerDnsMetrics } from "../../actors/dns/dns-metrics.ts";
import type { DnsServer, QueryObserver } from "../../actors/dns/dns-server.ts";
import { ZoneRecords } from "../../actors/dns/zone-records.ts";
import { testDnsServer } from "../support/dns.ts";

const SERVICES = 50;
const QUERIES = 200_000;

function server(observe: QueryObserver, maxCachedAnswers: number): DnsServer {
  const zone = new ZoneRecords();
  for (let i = 0; i < SERVICES; i++)
    zone.recordService({
      metadata: { name: `svc-${i}`, namespace: "default" },
      spec: { clusterIP: `127.96.1.${i}`, ports: [{ port: 80 }] },
    });
  return testDnsServer(zone, { observe, limits: { maxCachedAnswers } });
}

const queries = Array.from({ length: SERVICES }, (_, i) =>
  dnsPacket.encode({
    type: "query",
    id: i,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: `svc-${i}.default.svc.cluster.local`, type: "A" }],
  }),
);

async function run(label: string, s: DnsServer): Promise<void> {
  for (let i = 0; i < 10_000; i++) await s.answer(queries[i % SERVICES] as Buffer, "udp");
  const started = performance.now();
  for (let i = 0; i < QUERIES; i++) await s.answer(queries[i % SERVICES] as Buffer, "udp");
  const us = ((performance.now() - started) * 1_000) / QUERIES;
  console.log(`${label.padEnd(34)} ${us.toFixed(2)} µs/query  ${(1e6 / us).toFixed(0)} /s`);
}

const none: QueryObserver = () => {};
const tally = registerDnsMetrics(new Registry());
const metrics: QueryObserver = (type, rcode, seconds) => tally.record(type, rcode, seconds);
await run("cache hit, no metrics", server(none, 10_000));
await run("cache hit, metrics (tally)", server(metrics, 10_000));
await run("miss (no cache), no metrics", server(none, 0));
await run("miss (no cache), metrics (tally)", server(metrics, 0));
