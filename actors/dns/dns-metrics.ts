/**
 * The DNS server's `/metrics` (Prometheus text, in the node's registry), named as CoreDNS's:
 * queries by type and rcode, and a latency histogram.
 *
 * A query is tallied in plain arrays (`QueryTally`) and the registry reads the tally when it is
 * scraped. prom-client's own `inc`/`observe` validate and hash the label object on every call:
 * ~5 µs a query on this loaded machine against ~0.4 µs for a tally entry (a map lookup and a few
 * additions), when a cached answer costs ~1–6 µs (test/bench/dns-query-path.bench.ts).
 */
import { Counter, type Histogram, type MetricValueWithName, type Registry } from "prom-client";

/** Query types with their own label; the rest count as "other", so labels stay bounded. */
const COMMON_TYPES = new Set(["A", "AAAA", "SRV", "PTR", "CNAME", "TXT", "MX", "NS", "SOA"]);

/** From 25 µs (an answer from the zone) to 2.5 s (an upstream timing out), in seconds. */
export const DNS_LATENCY_BUCKETS = [
  0.000_025, 0.000_1, 0.000_25, 0.001, 0.002_5, 0.01, 0.025, 0.1, 0.25, 1, 2.5,
];

function typeLabel(type: string): string {
  return COMMON_TYPES.has(type) ? type : type === "none" ? "none" : "other";
}

export interface LatencyTally {
  /** Per bucket (the last is +Inf), not cumulative: made cumulative when read. */
  buckets: number[];
  sum: number;
  count: number;
}

export interface RequestCount {
  type: string;
  rcode: string;
  count: number;
}

/** A tally's counts, as the DNS thread hands them over (dns-thread-protocol.ts). */
export interface TallySnapshot {
  requests: RequestCount[];
  latency: (LatencyTally & { type: string })[];
}

/** Queries counted by (type, rcode) and timed by type; bounded by the label sets above. */
export class QueryTally {
  readonly requests = new Map<string, RequestCount>();
  readonly latency = new Map<string, LatencyTally>();

  /** What was counted since the last drain (empty: nothing to hand over). */
  drain(): TallySnapshot {
    const snapshot = {
      requests: [...this.requests.values()],
      latency: [...this.latency].map(([type, timed]) => ({ type, ...timed })),
    };
    this.requests.clear();
    this.latency.clear();
    return snapshot;
  }

  /** Adds another tally's counts (the DNS thread's) to these. */
  merge(snapshot: TallySnapshot): void {
    for (const { type, rcode, count } of snapshot.requests) {
      const key = `${type} ${rcode}`;
      const counted = this.requests.get(key);
      if (counted === undefined) this.requests.set(key, { type, rcode, count });
      else counted.count += count;
    }
    for (const { type, buckets, sum, count } of snapshot.latency) {
      const timed = this.timed(type);
      buckets.forEach((n, i) => {
        timed.buckets[i] = (timed.buckets[i] ?? 0) + n;
      });
      timed.sum += sum;
      timed.count += count;
    }
  }

  private timed(type: string): LatencyTally {
    let timed = this.latency.get(type);
    if (timed === undefined) {
      timed = {
        buckets: new Array<number>(DNS_LATENCY_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.latency.set(type, timed);
    }
    return timed;
  }

  record(type: string, rcode: string, seconds: number): void {
    const label = typeLabel(type);
    const key = `${label} ${rcode}`;
    const counted = this.requests.get(key);
    if (counted === undefined) this.requests.set(key, { type: label, rcode, count: 1 });
    else counted.count++;
    const timed = this.timed(label);
    let bucket = 0;
    while (bucket < DNS_LATENCY_BUCKETS.length && seconds > (DNS_LATENCY_BUCKETS[bucket] ?? 0))
      bucket++;
    timed.buckets[bucket] = (timed.buckets[bucket] ?? 0) + 1;
    timed.sum += seconds;
    timed.count++;
  }

  /** The histogram's samples in Prometheus' shape: cumulative `_bucket`s, `_sum`, `_count`. */
  histogramValues(name: string): MetricValueWithName<string>[] {
    const values: MetricValueWithName<string>[] = [];
    for (const [type, timed] of this.latency) {
      let cumulative = 0;
      timed.buckets.forEach((n, i) => {
        cumulative += n;
        const le = DNS_LATENCY_BUCKETS[i] ?? "+Inf";
        values.push({ metricName: `${name}_bucket`, labels: { le, type }, value: cumulative });
      });
      values.push({ metricName: `${name}_sum`, labels: { type }, value: timed.sum });
      values.push({ metricName: `${name}_count`, labels: { type }, value: timed.count });
    }
    return values;
  }
}

const DURATION_NAME = "bosun_dns_request_duration_seconds";
const DURATION_HELP =
  "Time from a query's arrival to its answer (forwarded queries include the upstream)";

/**
 * The latency histogram as the registry reads a metric: its name, help, type and `get()`. Its
 * samples are the tally's, computed at scrape time. prom-client's Histogram cannot take counts
 * made elsewhere, so this is a metric of its own, registered with one cast: prom-client's typings
 * declare a numeric `type` and a `collect` that its registry never reads.
 */
function talliedHistogram(tally: QueryTally) {
  const read = async () => ({
    name: DURATION_NAME,
    help: DURATION_HELP,
    type: "histogram",
    aggregator: "sum",
    values: tally.histogramValues(DURATION_NAME),
  });
  return {
    name: DURATION_NAME,
    help: DURATION_HELP,
    type: "histogram",
    aggregator: "sum",
    get: read,
    getForPromString: read,
    reset: () => tally.latency.clear(),
  };
}

/** Registers the DNS metrics; what the returned tally counts is what a scrape shows. */
export function registerDnsMetrics(registry: Registry): QueryTally {
  const tally = new QueryTally();
  new Counter({
    name: "bosun_dns_requests_total",
    help: "DNS queries answered (or dropped), by query type and response code",
    labelNames: ["type", "rcode"],
    registers: [registry],
    collect() {
      this.reset();
      for (const { type, rcode, count } of tally.requests.values())
        this.inc({ type, rcode }, count);
    },
  });
  registry.registerMetric(talliedHistogram(tally) as unknown as Histogram);
  return tally;
}
