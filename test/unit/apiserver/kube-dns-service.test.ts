/**
 * The kube-dns Service (the range's .10, reserved like the `kubernetes` Service's first address)
 * and its endpoints: the DNS servers named by live API server Leases.
 */
import { describe, expect, it } from "vitest";
import { ipv4ToNumber } from "../../../actors/api/allocation-range.ts";
import { DEFAULT_NODE_PORT_RANGE, serviceRanges } from "../../../actors/api/service-allocation.ts";
import {
  DEFAULT_SERVICE_CLUSTER_IP_CIDR,
  KUBE_DNS_SERVICE_IP,
} from "../../../actors/api/well-known.ts";
import {
  DNS_ENDPOINT_ANNOTATION,
  kubeDnsEndpointSubsets,
  kubeDnsService,
  kubeDnsSliceContent,
  liveDnsServers,
} from "../../../actors/apiserver/kube-dns-service.ts";
import { APISERVER_ENDPOINT_ANNOTATION } from "../../../actors/apiserver/kubernetes-service.ts";

describe("kube-dns", () => {
  it("its address is the range's .10, reserved (never picked)", () => {
    const ranges = serviceRanges(DEFAULT_SERVICE_CLUSTER_IP_CIDR, DEFAULT_NODE_PORT_RANGE);
    expect(ranges.reservedIPs.has(ipv4ToNumber(KUBE_DNS_SERVICE_IP) ?? -1)).toBe(true);
    expect(KUBE_DNS_SERVICE_IP).toBe("127.96.0.10");
  });

  it("port 53 over UDP (dns) and TCP (dns-tcp)", () => {
    const spec = kubeDnsService(KUBE_DNS_SERVICE_IP).spec as { ports: object[]; clusterIP: string };
    expect(spec.clusterIP).toBe("127.96.0.10");
    expect(spec.ports).toEqual([
      { name: "dns", protocol: "UDP", port: 53, targetPort: 53 },
      { name: "dns-tcp", protocol: "TCP", port: 53, targetPort: 53 },
    ]);
  });

  it("endpoints: the DNS servers of live API servers only", () => {
    const lease = (api: string, dns?: string) => ({
      metadata: {
        annotations: {
          [APISERVER_ENDPOINT_ANNOTATION]: api,
          ...(dns ? { [DNS_ENDPOINT_ANNOTATION]: dns } : {}),
        },
      },
    });
    const leases = [
      lease("127.0.1.1:6443", "127.0.1.1:53"),
      lease("127.0.1.2:6443", "127.0.1.2:53"),
      lease("127.0.1.3:6443"),
    ];
    expect(liveDnsServers(leases, ["127.0.1.2:6443", "127.0.1.3:6443"])).toEqual(["127.0.1.2:53"]);
  });

  it("a server on the fallback port gets its own subset; the slice lists the common port", () => {
    const live = ["127.0.1.1:53", "127.0.1.2:53", "127.0.1.3:10053"];
    expect(
      kubeDnsEndpointSubsets(live).map((s) => (s.ports as { port: number }[])[0]?.port),
    ).toEqual([53, 10053]);
    const slice = kubeDnsSliceContent(live) as {
      endpoints: { addresses: string[] }[];
      ports: { port: number; protocol: string }[];
    };
    expect(slice.endpoints.map((e) => e.addresses[0])).toEqual(["127.0.1.1", "127.0.1.2"]);
    expect(slice.ports.map((p) => `${p.port}/${p.protocol}`)).toEqual(["53/UDP", "53/TCP"]);
  });
});
