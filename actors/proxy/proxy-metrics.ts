/**
 * The proxy's `/metrics` (Prometheus text, in the node's registry): per service port,
 * connections, bytes, dial failures and UDP flows. Counters are read from the proxier's totals
 * at scrape time (prom-client's `collect`), so the data path never touches prom-client.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ServicePortReport } from "./proxier.ts";

const LABELS = ["service", "port", "protocol"] as const;

function labelsOf(r: ServicePortReport) {
  return { service: r.service, port: r.portName || String(r.port), protocol: r.protocol };
}

/**
 * Registers the proxy's metrics; `report` is null on a node without a proxy. A counter is
 * set to the proxier's total at each scrape (reset + inc: prom-client counters have no set).
 */
export function registerProxyMetrics(
  registry: Registry,
  report: () => ServicePortReport[] | null,
): void {
  const counter = (name: string, help: string, value: (r: ServicePortReport) => number) =>
    new Counter({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of report() ?? []) this.inc(labelsOf(r), value(r));
      },
    });
  const gauge = (name: string, help: string, value: (r: ServicePortReport) => number) =>
    new Gauge({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of report() ?? []) this.set(labelsOf(r), value(r));
      },
    });
  counter(
    "bosun_proxy_connections_total",
    "TCP connections accepted per service port",
    (r) => r.connectionsTotal,
  );
  counter(
    "bosun_proxy_connections_rejected_total",
    "TCP connections reset: over the per-port limit or no endpoint answered",
    (r) => r.connectionsRejected,
  );
  gauge(
    "bosun_proxy_active_connections",
    "TCP connections open per service port",
    (r) => r.activeConnections,
  );
  counter(
    "bosun_proxy_received_bytes_total",
    "Bytes from clients to endpoints per service port",
    (r) => r.bytesFromClients + r.openBytesFromClients,
  );
  counter(
    "bosun_proxy_sent_bytes_total",
    "Bytes from endpoints to clients per service port",
    (r) => r.bytesToClients + r.openBytesToClients,
  );
  counter(
    "bosun_proxy_dial_failures_total",
    "Dials to an endpoint that failed (the connection moved on to the next)",
    (r) => r.dialFailures,
  );
  gauge("bosun_proxy_udp_flows", "UDP flows open per service port", (r) => r.udpFlows);
  counter(
    "bosun_proxy_udp_flows_total",
    "UDP flows opened per service port",
    (r) => r.udpFlowsTotal,
  );
  counter(
    "bosun_proxy_udp_datagrams_total",
    "UDP datagrams forwarded per service port, both ways",
    (r) => r.datagramsFromClients + r.datagramsToClients,
  );
  gauge("bosun_proxy_ready_endpoints", "Ready endpoints per service port", (r) => r.readyEndpoints);
}
