/**
 * The `kubernetes` Service's pure parts (kube-apiserver's lease endpoint reconciler): which API
 * server Leases are live, and the Endpoints and EndpointSlice content for them.
 */
import { describe, expect, it } from "vitest";
import {
  apiServerLease,
  kubernetesEndpointSubsets,
  kubernetesService,
  kubernetesSliceContent,
  liveApiServers,
} from "../../../actors/apiserver/kubernetes-service.ts";

const T0 = Date.parse("2025-01-01T00:00:00Z");

describe("the kubernetes Service", () => {
  it("is 443 (https) → the API servers' port on the given cluster IP, with no selector", () => {
    const svc = kubernetesService("127.96.0.1", 6443);
    expect(svc.spec).toMatchObject({
      clusterIP: "127.96.0.1",
      ports: [{ name: "https", port: 443, targetPort: 6443, protocol: "TCP" }],
    });
    expect((svc.spec as Record<string, unknown>).selector).toBeUndefined();
  });

  it("lists the servers whose Lease was renewed within its duration", () => {
    const leases = [
      apiServerLease("n1", "127.0.0.11:6443", T0, 4),
      apiServerLease("n2", "127.0.0.12:6443", T0 - 3_000, 4),
      apiServerLease("n3", "127.0.0.13:6443", T0 - 5_000, 4),
    ];
    expect(liveApiServers(leases, T0)).toEqual(["127.0.0.11:6443", "127.0.0.12:6443"]);
    expect(liveApiServers(leases, T0 + 2_000)).toEqual(["127.0.0.11:6443"]);
  });

  it("writes one Endpoints subset per port and a ready slice endpoint per server", () => {
    const live = ["127.0.0.12:6443", "127.0.0.11:6443"];
    expect(kubernetesEndpointSubsets(live)).toEqual([
      {
        addresses: [{ ip: "127.0.0.11" }, { ip: "127.0.0.12" }],
        ports: [{ name: "https", port: 6443, protocol: "TCP" }],
      },
    ]);
    expect(kubernetesSliceContent(live)).toMatchObject({
      addressType: "IPv4",
      endpoints: [
        { addresses: ["127.0.0.12"], conditions: { ready: true } },
        { addresses: ["127.0.0.11"], conditions: { ready: true } },
      ],
      ports: [{ name: "https", port: 6443 }],
    });
  });
});
