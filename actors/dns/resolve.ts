/**
 * Answers a question about the cluster zone from a ZoneView, per the Kubernetes DNS-Based
 * Service Discovery specification (kubernetes/dns docs/specification.md, version 1.1.0). Pure:
 * the server (dns-server.ts) decodes, calls `resolve`, and encodes.
 *
 * - `<svc>.<ns>.svc.<zone>`: A → the cluster IP (§2.3.1); headless: an A per ready endpoint,
 *   NXDOMAIN when none is ready (§2.4.1); ExternalName: a CNAME for every type (§2.5).
 * - `<hostname>.<svc>.<ns>.svc.<zone>`: a headless endpoint's hostname (§2.4.1).
 * - `_<port>._<proto>.<svc>.<ns>.svc.<zone>`: SRV per named port (§2.3.2, §2.4.2), the targets'
 *   A records as additionals.
 * - `<d>.<c>.<b>.<a>.in-addr.arpa`: PTR for cluster IPs (§2.3.3) and headless endpoint IPs
 *   (§2.4.3); unknown loopback addresses are NXDOMAIN (every bosun address is 127.x).
 * - `<a-b-c-d>.<ns>.pod.<zone>`: the pod's A record, if a pod of `ns` has that IP (CoreDNS's
 *   `pods verified`).
 * - `dns-version.<zone>`: TXT "1.1.0" (§2.2).
 * - A name that exists with no record of the asked type is NODATA (NOERROR, no answers, the
 *   zone's SOA in authority: RFC 2308 §2.2); a name that does not exist is NXDOMAIN (§2.1).
 *   The cluster is IPv4 only: AAAA for any name that exists is NODATA. Empty non-terminals
 *   (the zone, `svc`, a namespace with Services, `_<proto>.<svc>` above SRV names) are NODATA.
 * - Anything else is forwarded upstream.
 */
import type { Answer, Question, RecordType } from "dns-packet";
import type { EndpointRecord, ServicePortRecord, ServiceRecord, ZoneView } from "./zone-records.ts";

/** RFC 1035 §4.1.1 response codes (the four bits dns-packet takes in `flags`). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

/** The version of the specification this server implements (§2.2). */
export const DNS_SCHEMA_VERSION = "1.1.0";

export interface ZoneConfig {
  /** The cluster domain, lower case, no trailing dot (`cluster.local`). */
  domain: string;
  ttlSeconds: number;
}

export interface ZoneAnswer {
  kind: "answer";
  rcode: Rcode;
  answers: Answer[];
  additionals: Answer[];
  authorities: Answer[];
}

export type Resolution = ZoneAnswer | { kind: "forward" };

const REVERSE_ZONE = "in-addr.arpa";
/** Every bosun address is a loopback address: their reverse names are ours to answer. */
const LOOPBACK_REVERSE_ZONE = `127.${REVERSE_ZONE}`;

export function resolve(question: Question, zone: ZoneView, config: ZoneConfig): Resolution {
  const name = question.name.toLowerCase().replace(/\.$/, "");
  const domain = config.domain;
  const ctx = new Answering(question.type, zone, config);
  if (name === domain) return ctx.apex();
  if (name.endsWith(`.${domain}`)) {
    const labels = name.slice(0, -domain.length - 1).split(".");
    return ctx.inZone(labels);
  }
  if (name === LOOPBACK_REVERSE_ZONE || name.endsWith(`.${LOOPBACK_REVERSE_ZONE}`))
    return ctx.reverse(name);
  return { kind: "forward" };
}

/** `10.0.96.127.in-addr.arpa` → `127.96.0.10`, or null if not an IPv4 reverse name. */
export function reverseNameToIp(name: string): string | null {
  if (!name.endsWith(`.${REVERSE_ZONE}`)) return null;
  const parts = name.slice(0, -REVERSE_ZONE.length - 1).split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256))
    return null;
  return parts.reverse().join(".");
}

/** `127.200.0.5` → `127-200-0-5`, the label of a pod or an endpoint without a hostname. */
export function dashedIp(ip: string): string {
  return ip.replaceAll(".", "-");
}

class Answering {
  constructor(
    private readonly type: RecordType,
    private readonly zone: ZoneView,
    private readonly config: ZoneConfig,
  ) {}

  private get ttl(): number {
    return this.config.ttlSeconds;
  }

  /** The zone's SOA, whose minimum is the negative TTL (RFC 2308 §4). */
  private soa(): Answer {
    const domain = this.config.domain;
    return {
      name: domain,
      type: "SOA",
      ttl: this.ttl,
      data: {
        mname: `ns.dns.${domain}`,
        rname: `hostmaster.${domain}`,
        serial: 1,
        refresh: 7_200,
        retry: 1_800,
        expire: 86_400,
        minimum: this.ttl,
      },
    };
  }

  /** The zone's own name: its SOA when asked for (RFC 1035 §3.3.13), NODATA for the rest. */
  apex(): ZoneAnswer {
    return this.type === "SOA" ? this.answer([this.soa()]) : this.nodata();
  }

  nodata(): ZoneAnswer {
    return {
      kind: "answer",
      rcode: "NOERROR",
      answers: [],
      additionals: [],
      authorities: [this.soa()],
    };
  }

  nxdomain(): ZoneAnswer {
    return {
      kind: "answer",
      rcode: "NXDOMAIN",
      answers: [],
      additionals: [],
      authorities: [this.soa()],
    };
  }

  private answer(answers: Answer[], additionals: Answer[] = []): ZoneAnswer {
    if (answers.length === 0) return this.nodata();
    return { kind: "answer", rcode: "NOERROR", answers, additionals, authorities: [] };
  }

  private a(name: string, ip: string): Answer {
    return { name, type: "A", ttl: this.ttl, data: ip };
  }

  private serviceName(svc: ServiceRecord): string {
    return `${svc.name}.${svc.namespace}.svc.${this.config.domain}`;
  }

  private endpointName(svc: ServiceRecord, e: EndpointRecord): string {
    return `${e.hostname || dashedIp(e.ip)}.${this.serviceName(svc)}`;
  }

  /** Labels left of the zone, e.g. ["web", "default", "svc"]. */
  inZone(labels: string[]): ZoneAnswer {
    const [first = "", second = "", third = "", fourth = ""] = labels;
    const last = labels[labels.length - 1];
    if (labels.length === 1 && first === "dns-version")
      return this.type === "TXT"
        ? this.answer([
            {
              name: `dns-version.${this.config.domain}`,
              type: "TXT",
              ttl: this.ttl,
              data: DNS_SCHEMA_VERSION,
            },
          ])
        : this.nodata();
    if (labels.length === 1 && (first === "svc" || first === "pod")) return this.nodata();
    if (last === "svc") {
      if (labels.length === 2)
        return this.zone.hasNamespaceServices(first) ? this.nodata() : this.nxdomain();
      if (labels.length === 3) return this.service(first, second);
      if (labels.length === 4 && first.startsWith("_"))
        return this.protocolNode(first.slice(1), second, third);
      if (labels.length === 4) return this.endpointHostname(first, second, third);
      if (labels.length === 5 && first.startsWith("_") && second.startsWith("_"))
        return this.namedPort(first.slice(1), second.slice(1), third, fourth);
      return this.nxdomain();
    }
    if (last === "pod") {
      if (labels.length === 2) return this.nodata(); // the namespace's pod subdomain
      if (labels.length === 3) return this.pod(first, second);
    }
    return this.nxdomain();
  }

  private readyEndpoints(svc: ServiceRecord): {
    endpoints: EndpointRecord[];
    ports: ServicePortRecord[];
  } {
    const { endpoints, ports } = this.zone.endpoints(svc.namespace, svc.name);
    const seen = new Set<string>();
    const ready = endpoints.filter((e) => {
      if (!(e.ready || svc.publishNotReady) || seen.has(e.ip)) return false;
      seen.add(e.ip);
      return true;
    });
    return { endpoints: ready, ports };
  }

  private service(name: string, namespace: string): ZoneAnswer {
    const svc = this.zone.service(namespace, name);
    if (svc === undefined) return this.nxdomain();
    const fqdn = this.serviceName(svc);
    if (svc.kind === "ExternalName")
      return this.answer([{ name: fqdn, type: "CNAME", ttl: this.ttl, data: svc.externalName }]);
    if (svc.kind === "ClusterIP") {
      if (this.type === "A") return this.answer([this.a(fqdn, svc.clusterIP)]);
      if (this.type === "SRV")
        return this.answer(
          svc.ports.filter((p) => p.name !== "").map((p) => this.srv(fqdn, p.port, fqdn)),
          [this.a(fqdn, svc.clusterIP)],
        );
      return this.nodata();
    }
    const { endpoints, ports } = this.readyEndpoints(svc);
    if (endpoints.length === 0) return this.nxdomain(); // §2.4.1: no ready endpoint, no name
    if (this.type === "A") return this.answer(endpoints.map((e) => this.a(fqdn, e.ip)));
    if (this.type === "SRV") {
      const named = ports.filter((p) => p.name !== "");
      return this.answer(
        named.flatMap((p) =>
          endpoints.map((e) => this.srv(fqdn, p.port, this.endpointName(svc, e))),
        ),
        named.length === 0 ? [] : endpoints.map((e) => this.a(this.endpointName(svc, e), e.ip)),
      );
    }
    return this.nodata();
  }

  private endpointHostname(host: string, name: string, namespace: string): ZoneAnswer {
    const svc = this.zone.service(namespace, name);
    if (svc?.kind !== "Headless") return this.nxdomain();
    const matches = this.readyEndpoints(svc).endpoints.filter(
      (e) => e.hostname === host || (e.hostname === "" && dashedIp(e.ip) === host),
    );
    if (matches.length === 0) return this.nxdomain();
    if (this.type !== "A") return this.nodata();
    return this.answer(matches.map((e) => this.a(this.endpointName(svc, e), e.ip)));
  }

  /**
   * `_<proto>.<svc>.<ns>.svc.<zone>`: an empty non-terminal when the Service has a named port
   * of that protocol (the parent of its SRV names), so NODATA, not NXDOMAIN (RFC 8020: an
   * NXDOMAIN there would tell a QNAME-minimising resolver, RFC 9156, that the SRV name below
   * does not exist either).
   */
  private protocolNode(protocol: string, name: string, namespace: string): ZoneAnswer {
    const svc = this.zone.service(namespace, name);
    if (svc === undefined || svc.kind === "ExternalName") return this.nxdomain();
    const ready = svc.kind === "Headless" ? this.readyEndpoints(svc) : null;
    // a headless Service without a ready endpoint has no names at all (§2.4.1)
    const ports = ready === null ? svc.ports : ready.endpoints.length > 0 ? ready.ports : [];
    return ports.some((p) => p.name !== "" && p.protocol === protocol)
      ? this.nodata()
      : this.nxdomain();
  }

  private srv(name: string, port: number, target: string): Answer {
    return { name, type: "SRV", ttl: this.ttl, data: { priority: 0, weight: 100, port, target } };
  }

  private namedPort(port: string, protocol: string, name: string, namespace: string): ZoneAnswer {
    const svc = this.zone.service(namespace, name);
    if (svc === undefined || svc.kind === "ExternalName") return this.nxdomain();
    const owner = `_${port}._${protocol}.${this.serviceName(svc)}`;
    const matching = (ports: ServicePortRecord[]) =>
      ports.filter((p) => p.name === port && p.protocol === protocol);
    if (svc.kind === "ClusterIP") {
      const found = matching(svc.ports);
      if (found.length === 0) return this.nxdomain();
      if (this.type !== "SRV") return this.nodata();
      const fqdn = this.serviceName(svc);
      return this.answer(
        found.map((p) => this.srv(owner, p.port, fqdn)),
        [this.a(fqdn, svc.clusterIP)],
      );
    }
    const { endpoints, ports } = this.readyEndpoints(svc);
    const found = matching(ports);
    if (endpoints.length === 0 || found.length === 0) return this.nxdomain();
    if (this.type !== "SRV") return this.nodata();
    return this.answer(
      found.flatMap((p) =>
        endpoints.map((e) => this.srv(owner, p.port, this.endpointName(svc, e))),
      ),
      endpoints.map((e) => this.a(this.endpointName(svc, e), e.ip)),
    );
  }

  private pod(label: string, namespace: string): ZoneAnswer {
    const ip = label.replaceAll("-", ".");
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) || !this.zone.hasPod(namespace, ip))
      return this.nxdomain();
    if (this.type !== "A") return this.nodata();
    return this.answer([this.a(`${label}.${namespace}.pod.${this.config.domain}`, ip)]);
  }

  reverse(name: string): ZoneAnswer {
    const ip = reverseNameToIp(name);
    if (ip === null) return this.nxdomain();
    const { services, endpoints } = this.zone.byAddress(ip);
    const targets = [
      ...services.map((s) => this.serviceName(s)),
      ...endpoints
        .filter(({ service, endpoint }) => endpoint.ready || service.publishNotReady)
        .map(({ service, endpoint }) => this.endpointName(service, endpoint)),
    ];
    if (targets.length === 0) return this.nxdomain();
    if (this.type !== "PTR") return this.nodata();
    return this.answer(
      [...new Set(targets)].map((data) => ({ name, type: "PTR", ttl: this.ttl, data })),
    );
  }
}
