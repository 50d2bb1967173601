/**
 * What the proxy forwards, from a Service and its EndpointSlices: ports by name and protocol,
 * ready endpoints only for new connections, headless Services skipped, affinity and traffic
 * policy carried over, health check ports for `externalTrafficPolicy: Local`.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { healthCheckPortOf, proxiedPortsOf } from "../../../actors/proxy/service-ports.ts";

function service(spec: JsonObject, name = "web"): JsonObject {
  return { metadata: { namespace: "shop", name }, spec };
}

function slice(ports: JsonObject[], endpoints: JsonObject[]): JsonObject {
  return { addressType: "IPv4", metadata: { namespace: "shop", name: "web-x" }, ports, endpoints };
}

describe("proxied ports of a Service", () => {
  const svc = service({
    clusterIP: "127.96.0.10",
    type: "NodePort",
    ports: [
      { name: "http", port: 80, targetPort: 8080, nodePort: 30080 },
      { name: "dns", port: 53, protocol: "UDP", targetPort: 5353 },
    ],
  });
  const slices = [
    slice(
      [
        { name: "http", port: 8080, protocol: "TCP" },
        { name: "dns", port: 5353, protocol: "UDP" },
      ],
      [
        { addresses: ["127.200.0.1"], conditions: { ready: true }, nodeName: "n1" },
        { addresses: ["127.200.0.2"], conditions: { ready: false }, nodeName: "n2" },
        {
          addresses: ["127.200.0.3"],
          conditions: { ready: false, serving: true, terminating: true },
          nodeName: "n3",
        },
      ],
    ),
  ];

  it("matches slice ports to Service ports by name and protocol", () => {
    const ports = proxiedPortsOf(svc, slices);
    expect(ports.map((p) => [p.key, p.port, p.nodePort])).toEqual([
      ["shop/web:http/TCP", 80, 30080],
      ["shop/web:dns/UDP", 53, null],
    ]);
    expect(ports[1]?.endpoints.map((e) => `${e.ip}:${e.port}`)).toContain("127.200.0.1:5353");
  });

  it("marks only ready endpoints ready: not-ready and terminating ones get no new connections", () => {
    const [http] = proxiedPortsOf(svc, slices);
    expect(http?.endpoints.filter((e) => e.ready).map((e) => e.ip)).toEqual(["127.200.0.1"]);
    expect(http?.endpoints.find((e) => e.ip === "127.200.0.3")?.terminating).toBe(true);
  });

  it("skips headless and ExternalName Services", () => {
    expect(proxiedPortsOf(service({ clusterIP: "None", ports: [{ port: 80 }] }), [])).toEqual([]);
    expect(
      proxiedPortsOf(service({ type: "ExternalName", externalName: "x.example" }), []),
    ).toEqual([]);
  });

  it("carries ClientIP affinity (default 10800 s) and the external traffic policy", () => {
    const [p] = proxiedPortsOf(
      service({
        clusterIP: "127.96.0.11",
        sessionAffinity: "ClientIP",
        externalTrafficPolicy: "Local",
        ports: [{ port: 80 }],
      }),
      [],
    );
    expect(p?.affinityTimeoutMs).toBe(10_800_000);
    expect(p?.externalTrafficPolicy).toBe("Local");
    const [q] = proxiedPortsOf(
      service({
        clusterIP: "127.96.0.11",
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
        ports: [{ port: 80 }],
      }),
      [],
    );
    expect(q?.affinityTimeoutMs).toBe(60_000);
  });

  it("serves a health check port only for externalTrafficPolicy Local", () => {
    expect(
      healthCheckPortOf(
        service({ externalTrafficPolicy: "Local", healthCheckNodePort: 32000, ports: [] }),
      ),
    ).toEqual({ service: "shop/web", port: 32000 });
    expect(healthCheckPortOf(service({ healthCheckNodePort: 32000, ports: [] }))).toBeNull();
  });
});
