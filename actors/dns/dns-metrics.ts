/**
 * The DNS server's `/metrics` (Prometheus text, in the node's registry), named as CoreDNS's:
 * queries by type and rcode, and a latency histogram. Unlike the proxy's counters (read at
 * scrape time), these are observed per query: a counter increment and a histogram observation
 * cost well under a microsecond next to a query's decode and encode.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { QueryObserver } from "./dns-server.ts";

/** Query types with their own label; the rest count as "other", so labels stay bounded. */
const COMMON_TYPES = new Set(["A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "MX", "NS", "SOA"]);

/** Registers the DNS metrics; the returned observer is given to the server. */
export function registerDnsMetrics(registry: Registry): QueryObserver {
  const requests = new Counter({
    name: "bosun_dns_requests_total",
    help: "DNS queries answered (or dropped), by query type and response code",
    labelNames: ["type", "rcode"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "bosun_dns_request_duration_seconds",
    help: "Time from a query's arrival to its answer (forwarded queries include the upstream)",
    labelNames: ["type"],
    // from 25 µs (an answer from the zone) to 2 s (an upstream timing out)
    buckets: [0.000_025, 0.000_1, 0.000_25, 0.001, 0.002_5, 0.01, 0.025, 0.1, 0.25, 1, 2.5],
    registers: [registry],
  });
  return (type, rcode, seconds) => {
    const label = COMMON_TYPES.has(type) ? type : type === "none" ? "none" : "other";
    requests.inc({ type: label, rcode });
    duration.observe({ type: label }, seconds);
  };
}
