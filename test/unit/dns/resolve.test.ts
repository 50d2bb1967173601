/**
 * The cluster zone's answers, per the Kubernetes DNS specification (kubernetes/dns
 * docs/specification.md §2), from a fixture of Services, EndpointSlices and Pods fed through
 * the same ZoneRecords the informers feed.
 */
import type { Answer, Question, RecordType } from "dns-packet";
import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { encodeResponse, parseQuery } from "../../../actors/dns/dns-message.ts";
import { DEFAULT_DNS_LIMITS } from "../../../actors/dns/limits.ts";
import { resolve, reverseNameToIp, type ZoneAnswer } from "../../../actors/dns/resolve.ts";
import { ZoneRecords } from "../../../actors/dns/zone-records.ts";

const config = { domain: "cluster.local", ttlSeconds: 5 };

function service(name: string, spec: JsonObject, namespace = "default"): JsonObject {
  return { metadata: { name, namespace }, spec };
}

function slice(
  service: string,
  endpoints: { ip: string; ready?: boolean; hostname?: string }[],
  ports: JsonObject[],
  name = `${service}-abc`,
  namespace = "default",
): JsonObject {
  return {
    metadata: { name, namespace, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.hostname ? { hostname: e.hostname } : {}),
    })),
    ports,
  };
}

function fixture(): ZoneRecords {
  const zone = new ZoneRecords();
  zone.recordService(
    service("web", {
      clusterIP: "127.96.0.20",
      ports: [
        { name: "http", protocol: "TCP", port: 80 },
        { name: "dns", protocol: "UDP", port: 53 },
      ],
    }),
  );
  zone.recordService(
    service("db", { clusterIP: "None", ports: [{ name: "pg", protocol: "TCP", port: 5432 }] }),
  );
  zone.recordSlice(
    slice(
      "db",
      [
        { ip: "127.200.0.5", hostname: "db-0" },
        { ip: "127.200.0.6" },
        { ip: "127.200.0.7", ready: false },
      ],
      [{ name: "pg", protocol: "TCP", port: 5432 }],
    ),
  );
  zone.recordService(service("empty", { clusterIP: "None", ports: [] }));
  zone.recordSlice(slice("empty", [{ ip: "127.200.0.9", ready: false }], []));
  zone.recordService(service("ext", { type: "ExternalName", externalName: "example.com." }));
  zone.recordService(service("pending", { ports: [] })); // no cluster IP yet
  zone.recordPod({
    metadata: { name: "p", namespace: "default" },
    status: { podIP: "127.200.0.5" },
  });
  return zone;
}

function ask(name: string, type: RecordType, zone = fixture()): ZoneAnswer {
  const result = resolve({ name, type, class: "IN" } as Question, zone, config);
  if (result.kind !== "answer") throw new Error(`${name} was forwarded`);
  return result;
}

const data = (answers: Answer[]) => answers.map((a) => ("data" in a ? a.data : null));

describe("§2.3 ClusterIP Services", () => {
  it("A: <svc>.<ns>.svc.<zone> is the cluster IP, with the configured TTL", () => {
    const r = ask("web.default.svc.cluster.local", "A");
    expect(r.rcode).toBe("NOERROR");
    expect(r.answers).toEqual([
      { name: "web.default.svc.cluster.local", type: "A", ttl: 5, data: "127.96.0.20" },
    ]);
  });

  it("names are case-insensitive and may end in a dot", () => {
    expect(data(ask("WEB.Default.SVC.cluster.local.", "A").answers)).toEqual(["127.96.0.20"]);
  });

  it("SRV: _<port>._<proto>.<svc> points at the Service name, its A as additional", () => {
    const r = ask("_http._tcp.web.default.svc.cluster.local", "SRV");
    expect(data(r.answers)).toEqual([
      { priority: 0, weight: 100, port: 80, target: "web.default.svc.cluster.local" },
    ]);
    expect(data(r.additionals)).toEqual(["127.96.0.20"]);
    expect(data(ask("_dns._udp.web.default.svc.cluster.local", "SRV").answers)).toHaveLength(1);
  });

  it("SRV for a port or protocol the Service lacks is NXDOMAIN", () => {
    expect(ask("_http._udp.web.default.svc.cluster.local", "SRV").rcode).toBe("NXDOMAIN");
    expect(ask("_nope._tcp.web.default.svc.cluster.local", "SRV").rcode).toBe("NXDOMAIN");
  });

  it("NODATA (NOERROR, no answers, SOA in authority) for a type the name lacks", () => {
    for (const type of ["AAAA", "TXT", "MX"] as RecordType[]) {
      const r = ask("web.default.svc.cluster.local", type);
      expect(r.rcode).toBe("NOERROR");
      expect(r.answers).toEqual([]);
      expect(r.authorities.map((a) => a.type)).toEqual(["SOA"]);
    }
    expect(ask("_http._tcp.web.default.svc.cluster.local", "A").rcode).toBe("NOERROR");
  });

  it("NXDOMAIN for a Service that does not exist, or has no cluster IP yet", () => {
    for (const name of [
      "nope.default.svc.cluster.local",
      "web.other.svc.cluster.local",
      "pending.default.svc.cluster.local",
      "a.b.c.d.e.f.svc.cluster.local",
    ]) {
      const r = ask(name, "A");
      expect(r.rcode, name).toBe("NXDOMAIN");
      expect(r.authorities.map((a) => a.type)).toEqual(["SOA"]);
    }
  });

  it("a deleted Service stops resolving at once (no negative or positive cache)", () => {
    const zone = fixture();
    zone.forgetService(service("web", {}));
    expect(ask("web.default.svc.cluster.local", "A", zone).rcode).toBe("NXDOMAIN");
    zone.recordService(service("web", { clusterIP: "127.96.0.21" }));
    expect(data(ask("web.default.svc.cluster.local", "A", zone).answers)).toEqual(["127.96.0.21"]);
  });

  it("empty non-terminals exist: the zone, svc, a namespace with Services", () => {
    expect(ask("cluster.local", "A").rcode).toBe("NOERROR");
    expect(ask("svc.cluster.local", "A").rcode).toBe("NOERROR");
    expect(ask("default.svc.cluster.local", "A").rcode).toBe("NOERROR");
    expect(ask("nobody.svc.cluster.local", "A").rcode).toBe("NXDOMAIN");
  });
});

describe("§2.4 headless Services", () => {
  it("A: one record per ready endpoint", () => {
    expect(data(ask("db.default.svc.cluster.local", "A").answers).sort()).toEqual([
      "127.200.0.5",
      "127.200.0.6",
    ]);
  });

  it("NXDOMAIN when no endpoint is ready", () => {
    expect(ask("empty.default.svc.cluster.local", "A").rcode).toBe("NXDOMAIN");
  });

  it("readiness changes the answer at once", () => {
    const zone = fixture();
    zone.recordSlice(
      slice("db", [{ ip: "127.200.0.7" }], [{ name: "pg", protocol: "TCP", port: 5432 }]),
    );
    expect(data(ask("db.default.svc.cluster.local", "A", zone).answers)).toEqual(["127.200.0.7"]);
  });

  it("hostname records: <hostname>.<svc>.<ns>.svc.<zone>, and the dashed IP without one", () => {
    expect(data(ask("db-0.db.default.svc.cluster.local", "A").answers)).toEqual(["127.200.0.5"]);
    expect(data(ask("127-200-0-6.db.default.svc.cluster.local", "A").answers)).toEqual([
      "127.200.0.6",
    ]);
    expect(ask("db-9.db.default.svc.cluster.local", "A").rcode).toBe("NXDOMAIN");
    expect(ask("127-200-0-7.db.default.svc.cluster.local", "A").rcode).toBe("NXDOMAIN"); // not ready
    expect(ask("x.web.default.svc.cluster.local", "A").rcode).toBe("NXDOMAIN"); // not headless
  });

  it("SRV: one per ready endpoint, targets the endpoint names, their A as additionals", () => {
    const r = ask("_pg._tcp.db.default.svc.cluster.local", "SRV");
    expect(data(r.answers)).toEqual([
      { priority: 0, weight: 100, port: 5432, target: "db-0.db.default.svc.cluster.local" },
      { priority: 0, weight: 100, port: 5432, target: "127-200-0-6.db.default.svc.cluster.local" },
    ]);
    expect(r.additionals.map((a) => a.name)).toEqual([
      "db-0.db.default.svc.cluster.local",
      "127-200-0-6.db.default.svc.cluster.local",
    ]);
  });

  it("publishNotReadyAddresses publishes not-ready endpoints too", () => {
    const zone = fixture();
    zone.recordService(service("empty", { clusterIP: "None", publishNotReadyAddresses: true }));
    expect(data(ask("empty.default.svc.cluster.local", "A", zone).answers)).toEqual([
      "127.200.0.9",
    ]);
  });
});

describe("§2.5 ExternalName Services", () => {
  it("a CNAME to the external name, whatever the type asked", () => {
    for (const type of ["A", "AAAA", "CNAME"] as RecordType[]) {
      const r = ask("ext.default.svc.cluster.local", type);
      expect(r.answers).toEqual([
        { name: "ext.default.svc.cluster.local", type: "CNAME", ttl: 5, data: "example.com" },
      ]);
    }
  });
});

describe("PTR records", () => {
  it("a cluster IP's reverse name is the Service", () => {
    const r = ask("20.0.96.127.in-addr.arpa", "PTR");
    expect(data(r.answers)).toEqual(["web.default.svc.cluster.local"]);
  });

  it("a ready headless endpoint's reverse name is its hostname record", () => {
    expect(data(ask("5.0.200.127.in-addr.arpa", "PTR").answers)).toEqual([
      "db-0.db.default.svc.cluster.local",
    ]);
    expect(data(ask("6.0.200.127.in-addr.arpa", "PTR").answers)).toEqual([
      "127-200-0-6.db.default.svc.cluster.local",
    ]);
  });

  it("an unknown loopback address is NXDOMAIN; other reverse names are forwarded", () => {
    expect(ask("99.0.96.127.in-addr.arpa", "PTR").rcode).toBe("NXDOMAIN");
    expect(ask("7.0.200.127.in-addr.arpa", "PTR").rcode).toBe("NXDOMAIN"); // not ready
    const r = resolve(
      { name: "1.1.168.192.in-addr.arpa", type: "PTR" } as Question,
      fixture(),
      config,
    );
    expect(r.kind).toBe("forward");
  });

  it("reverse names parse strictly", () => {
    expect(reverseNameToIp("10.0.96.127.in-addr.arpa")).toBe("127.96.0.10");
    expect(reverseNameToIp("0.96.127.in-addr.arpa")).toBeNull();
    expect(reverseNameToIp("256.0.96.127.in-addr.arpa")).toBeNull();
    expect(reverseNameToIp("01.0.96.127.in-addr.arpa")).toBeNull();
  });
});

describe("pod records and dns-version", () => {
  it("<a-b-c-d>.<ns>.pod.<zone> answers for a pod of that namespace with that IP", () => {
    expect(data(ask("127-200-0-5.default.pod.cluster.local", "A").answers)).toEqual([
      "127.200.0.5",
    ]);
    expect(ask("127-200-0-5.other.pod.cluster.local", "A").rcode).toBe("NXDOMAIN");
    expect(ask("127-200-0-99.default.pod.cluster.local", "A").rcode).toBe("NXDOMAIN");
    expect(ask("not-an-ip.default.pod.cluster.local", "A").rcode).toBe("NXDOMAIN");
    expect(ask("127-200-0-5.default.pod.cluster.local", "AAAA").rcode).toBe("NOERROR");
  });

  it("a deleted pod's record goes", () => {
    const zone = fixture();
    zone.forgetPod({ metadata: { name: "p", namespace: "default" } });
    expect(ask("127-200-0-5.default.pod.cluster.local", "A", zone).rcode).toBe("NXDOMAIN");
  });

  it("dns-version.<zone> TXT is the specification's version", () => {
    expect(data(ask("dns-version.cluster.local", "TXT").answers)).toEqual(["1.1.0"]);
    expect(ask("dns-version.cluster.local", "A").answers).toEqual([]);
  });
});

describe("outside the zone", () => {
  it("other names are forwarded", () => {
    for (const name of ["example.com", "cluster.local.example.com", "localcluster.local"])
      expect(resolve({ name, type: "A" } as Question, fixture(), config).kind).toBe("forward");
  });

  it("the cluster domain is configurable", () => {
    const r = resolve({ name: "web.default.svc.bosun.test", type: "A" } as Question, fixture(), {
      domain: "bosun.test",
      ttlSeconds: 30,
    });
    const first = r.kind === "answer" ? r.answers[0] : undefined;
    expect(first !== undefined && "ttl" in first ? first.ttl : null).toBe(30);
  });
});

describe("the wire (dns-packet)", () => {
  const query = (name: string, type: RecordType, extra: object = {}) =>
    dnsPacket.encode({
      type: "query",
      id: 7,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type, class: "IN" }],
      ...extra,
    });

  it("malformed and truncated packets are dropped, not answered", () => {
    const good = query("web.default.svc.cluster.local", "A");
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from([1, 2, 3]),
      good.subarray(0, good.length - 3),
      Buffer.alloc(5_000),
    ])
      expect(parseQuery(bytes, DEFAULT_DNS_LIMITS).kind).toBe("drop");
  });

  it("a query with two questions is FORMERR", () => {
    const bytes = dnsPacket.encode({
      type: "query",
      id: 1,
      questions: [
        { name: "a.cluster.local", type: "A" },
        { name: "b.cluster.local", type: "A" },
      ],
    });
    const parsed = parseQuery(bytes, DEFAULT_DNS_LIMITS);
    expect(parsed.kind === "error" && parsed.rcode).toBe("FORMERR");
  });

  it("a large answer is truncated over UDP (TC, no records) and complete over TCP", () => {
    const zone = new ZoneRecords();
    zone.recordService(service("big", { clusterIP: "None" }));
    const endpoints = Array.from({ length: 60 }, (_, i) => ({ ip: `127.200.1.${i + 1}` }));
    zone.recordSlice(slice("big", endpoints, []));
    const parsed = parseQuery(query("big.default.svc.cluster.local", "A"), DEFAULT_DNS_LIMITS);
    if (parsed.kind !== "query") throw new Error("not parsed");
    const r = resolve(parsed.question, zone, config);
    if (r.kind !== "answer") throw new Error("forwarded");
    const content = { ...r, authoritative: true };
    const udp = dnsPacket.decode(encodeResponse(parsed.packet, content, 512));
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    expect(udp.id).toBe(7);
    const tcp = dnsPacket.decode(encodeResponse(parsed.packet, content, null));
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers).toHaveLength(60);
    expect(tcp.flag_aa).toBe(true);
  });

  it("NXDOMAIN travels in the rcode with the SOA", () => {
    const parsed = parseQuery(query("nope.default.svc.cluster.local", "A"), DEFAULT_DNS_LIMITS);
    if (parsed.kind !== "query") throw new Error("not parsed");
    const r = resolve(parsed.question, fixture(), config);
    if (r.kind !== "answer") throw new Error("forwarded");
    const reply = dnsPacket.decode(
      encodeResponse(parsed.packet, { ...r, authoritative: true }, 512),
    );
    expect((reply as unknown as { rcode: string }).rcode).toBe("NXDOMAIN");
    expect(reply.authorities?.[0]?.type).toBe("SOA");
  });
});

describe("NODATA or NXDOMAIN: a name that exists never answers NXDOMAIN (RFC 2308, RFC 8020)", () => {
  const NODATA = "NODATA";
  const NXDOMAIN = "NXDOMAIN";
  const ANSWER = "answer";
  const outcome = (name: string, type: RecordType) => {
    const result = ask(name, type);
    if (result.rcode === "NXDOMAIN") return NXDOMAIN;
    if (result.rcode !== "NOERROR") return result.rcode;
    if (result.answers.length > 0) return ANSWER;
    // NODATA carries the zone's SOA so that resolvers know how long to remember it (§2.2)
    expect(result.authorities.map((a) => a.type)).toEqual(["SOA"]);
    return NODATA;
  };
  const cases: [string, RecordType, string][] = [
    // the cluster is IPv4 only: AAAA of any name that exists is NODATA
    ["web.default.svc.cluster.local", "A", ANSWER],
    ["web.default.svc.cluster.local", "AAAA", NODATA],
    ["web.default.svc.cluster.local", "TXT", NODATA],
    ["db.default.svc.cluster.local", "AAAA", NODATA],
    ["db-0.db.default.svc.cluster.local", "AAAA", NODATA],
    ["127-200-0-6.db.default.svc.cluster.local", "AAAA", NODATA],
    ["127-200-0-5.default.pod.cluster.local", "AAAA", NODATA],
    ["_http._tcp.web.default.svc.cluster.local", "AAAA", NODATA],
    ["_http._tcp.web.default.svc.cluster.local", "A", NODATA],
    ["_pg._tcp.db.default.svc.cluster.local", "A", NODATA],
    ["20.0.96.127.in-addr.arpa", "A", NODATA],
    ["20.0.96.127.in-addr.arpa", "AAAA", NODATA],
    ["dns-version.cluster.local", "A", NODATA],
    // empty non-terminals exist
    ["cluster.local", "A", NODATA],
    ["cluster.local", "SOA", ANSWER],
    ["svc.cluster.local", "AAAA", NODATA],
    ["default.svc.cluster.local", "A", NODATA],
    ["default.pod.cluster.local", "A", NODATA],
    ["_tcp.web.default.svc.cluster.local", "SRV", NODATA],
    ["_udp.web.default.svc.cluster.local", "A", NODATA],
    ["_tcp.db.default.svc.cluster.local", "SRV", NODATA],
    // names that do not exist, whatever the type
    ["nope.default.svc.cluster.local", "AAAA", NXDOMAIN],
    ["pending.default.svc.cluster.local", "A", NXDOMAIN],
    ["empty.default.svc.cluster.local", "AAAA", NXDOMAIN],
    ["127-200-0-9.empty.default.svc.cluster.local", "A", NXDOMAIN],
    ["127-200-0-7.db.default.svc.cluster.local", "A", NXDOMAIN],
    ["nope.db.default.svc.cluster.local", "AAAA", NXDOMAIN],
    ["_sctp.web.default.svc.cluster.local", "SRV", NXDOMAIN],
    ["_nope._tcp.web.default.svc.cluster.local", "SRV", NXDOMAIN],
    ["_tcp.ext.default.svc.cluster.local", "SRV", NXDOMAIN],
    ["nons.svc.cluster.local", "A", NXDOMAIN],
    ["127-200-0-99.default.pod.cluster.local", "AAAA", NXDOMAIN],
    ["127-200-0-5.other.pod.cluster.local", "A", NXDOMAIN],
    ["99.99.96.127.in-addr.arpa", "PTR", NXDOMAIN],
    ["a.b.c.d.e.svc.cluster.local", "A", NXDOMAIN],
    ["nope.cluster.local", "AAAA", NXDOMAIN],
    // an ExternalName is a CNAME whatever the type, AAAA included (§2.5)
    ["ext.default.svc.cluster.local", "AAAA", ANSWER],
  ];
  for (const [name, type, expected] of cases)
    it(`${type} ${name}: ${expected}`, () => expect(outcome(name, type)).toBe(expected));
});
