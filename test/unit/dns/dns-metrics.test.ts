/**
 * The DNS metrics as Prometheus reads them: queries by type and rcode, and the latency histogram
 * with cumulative buckets, from a tally filled per query, including a tally handed over from
 * the DNS thread (drained there, merged here).
 */
import { Registry } from "prom-client";
import { expect, it } from "vitest";
import { QueryTally, registerDnsMetrics } from "../../../actors/dns/dns-metrics.ts";

it("exposes counts by type and rcode, and cumulative latency buckets by type", async () => {
  const registry = new Registry();
  const tally = registerDnsMetrics(registry);
  tally.record("A", "NOERROR", 0.000_02);
  tally.record("A", "NOERROR", 0.5);
  tally.record("AAAA", "NOERROR", 0.000_05);
  tally.record("UNKNOWN_999", "REFUSED", 0.001);
  tally.record("none", "dropped", 0);
  const text = await registry.metrics();
  expect(text).toContain('bosun_dns_requests_total{type="A",rcode="NOERROR"} 2');
  expect(text).toContain('bosun_dns_requests_total{type="AAAA",rcode="NOERROR"} 1');
  // unknown types share one label, so a flood of odd types cannot grow the series
  expect(text).toContain('bosun_dns_requests_total{type="other",rcode="REFUSED"} 1');
  expect(text).toContain('bosun_dns_requests_total{type="none",rcode="dropped"} 1');
  expect(text).toContain("# TYPE bosun_dns_request_duration_seconds histogram");
  expect(text).toContain('bosun_dns_request_duration_seconds_bucket{le="0.000025",type="A"} 1');
  expect(text).toContain('bosun_dns_request_duration_seconds_bucket{le="0.25",type="A"} 1');
  expect(text).toContain('bosun_dns_request_duration_seconds_bucket{le="1",type="A"} 2');
  expect(text).toContain('bosun_dns_request_duration_seconds_bucket{le="+Inf",type="A"} 2');
  expect(text).toContain('bosun_dns_request_duration_seconds_sum{type="A"} 0.50002');
  expect(text).toContain('bosun_dns_request_duration_seconds_count{type="A"} 2');
  // a second scrape reads the same totals (counts are not consumed by reading)
  expect(await registry.metrics()).toContain(
    'bosun_dns_requests_total{type="A",rcode="NOERROR"} 2',
  );
});

it("a drained tally merged into another adds up, and the drained one starts from zero", async () => {
  const registry = new Registry();
  const main = registerDnsMetrics(registry);
  main.record("A", "NOERROR", 0.000_02);
  const thread = new QueryTally();
  thread.record("A", "NOERROR", 0.002);
  thread.record("SRV", "NXDOMAIN", 0.000_02);
  main.merge(thread.drain());
  expect(thread.requests.size).toBe(0);
  expect(thread.latency.size).toBe(0);
  thread.record("A", "NOERROR", 0.002);
  main.merge(thread.drain());
  const text = await registry.metrics();
  expect(text).toContain('bosun_dns_requests_total{type="A",rcode="NOERROR"} 3');
  expect(text).toContain('bosun_dns_requests_total{type="SRV",rcode="NXDOMAIN"} 1');
  expect(text).toContain('bosun_dns_request_duration_seconds_bucket{le="0.001",type="A"} 1');
  expect(text).toContain('bosun_dns_request_duration_seconds_bucket{le="0.0025",type="A"} 3');
  expect(text).toContain('bosun_dns_request_duration_seconds_count{type="A"} 3');
});
