/**
 * The `kube-dns` Service of `kube-system` and its endpoints (DESIGN §7): cluster IP the range's
 * `.10`, port 53 over UDP (`dns`) and TCP (`dns-tcp`), as kubeadm's CoreDNS Service; its
 * endpoints are the DNS servers of the live server nodes, kept by the API servers' endpoint
 * reconciler from the same Leases as the `kubernetes` Service's (each Lease also says where
 * its node's DNS server answers). Pure.
 */
import { asObject, type JsonObject } from "../api/json.ts";
import {
  KUBE_DNS_SERVICE_NAME,
  KUBE_SYSTEM_NAMESPACE,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from "../api/well-known.ts";
import { APISERVER_ENDPOINT_ANNOTATION, APISERVER_MANAGER } from "./kubernetes-service.ts";

/** Where a Lease says its node's DNS server answers (`ip:port`), once it listens. */
export const DNS_ENDPOINT_ANNOTATION = "bosun.dev/dns-endpoint";
export const KUBE_DNS_PORT = 53;
export const KUBE_DNS_UDP_PORT_NAME = "dns";
export const KUBE_DNS_TCP_PORT_NAME = "dns-tcp";

export function kubeDnsService(clusterIP: string): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: KUBE_DNS_SERVICE_NAME,
      namespace: KUBE_SYSTEM_NAMESPACE,
      labels: { "k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS" },
    },
    spec: {
      type: "ClusterIP",
      clusterIP,
      clusterIPs: [clusterIP],
      sessionAffinity: "None",
      ports: [
        {
          name: KUBE_DNS_UDP_PORT_NAME,
          protocol: "UDP",
          port: KUBE_DNS_PORT,
          targetPort: KUBE_DNS_PORT,
        },
        {
          name: KUBE_DNS_TCP_PORT_NAME,
          protocol: "TCP",
          port: KUBE_DNS_PORT,
          targetPort: KUBE_DNS_PORT,
        },
      ],
    },
  };
}

/** The DNS endpoints (`ip:port`) named by the live Leases, sorted. */
export function liveDnsServers(leases: JsonObject[], liveApiServers: string[]): string[] {
  const live = new Set<string>();
  for (const lease of leases) {
    const annotations = asObject(asObject(lease.metadata).annotations);
    const api = annotations[APISERVER_ENDPOINT_ANNOTATION];
    const dns = annotations[DNS_ENDPOINT_ANNOTATION];
    if (typeof dns === "string" && typeof api === "string" && liveApiServers.includes(api))
      live.add(dns);
  }
  return [...live].sort();
}

function split(endpoint: string): { ip: string; port: number } {
  const colon = endpoint.lastIndexOf(":");
  return { ip: endpoint.slice(0, colon), port: Number(endpoint.slice(colon + 1)) };
}

function ports(port: number): JsonObject[] {
  return [
    { name: KUBE_DNS_UDP_PORT_NAME, port, protocol: "UDP" },
    { name: KUBE_DNS_TCP_PORT_NAME, port, protocol: "TCP" },
  ];
}

/** The Endpoints' subsets: one per DNS port in use (one in practice), addresses sorted. */
export function kubeDnsEndpointSubsets(live: string[]): JsonObject[] {
  const byPort = new Map<number, string[]>();
  for (const e of live) {
    const { ip, port } = split(e);
    byPort.set(port, [...(byPort.get(port) ?? []), ip]);
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, ips]) => ({ addresses: ips.sort().map((ip) => ({ ip })), ports: ports(port) }));
}

/**
 * The EndpointSlice's content. A slice has one port list, so the servers on the most common
 * port are listed (all of them, unless some fell back to another port and others did not).
 */
export function kubeDnsSliceContent(live: string[]): JsonObject {
  const count = new Map<number, number>();
  for (const e of live) count.set(split(e).port, (count.get(split(e).port) ?? 0) + 1);
  const port = [...count.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0];
  const listed = live.filter((e) => split(e).port === port);
  return {
    addressType: "IPv4",
    endpoints: listed.map((e) => ({
      addresses: [split(e).ip],
      conditions: { ready: true, serving: true, terminating: false },
    })),
    ports: port === undefined ? [] : ports(port),
  };
}

export function kubeDnsSlice(live: string[]): JsonObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: KUBE_DNS_SERVICE_NAME,
      namespace: KUBE_SYSTEM_NAMESPACE,
      labels: {
        [SERVICE_NAME_LABEL]: KUBE_DNS_SERVICE_NAME,
        [MANAGED_BY_LABEL]: APISERVER_MANAGER,
      },
    },
    ...kubeDnsSliceContent(live),
  };
}
