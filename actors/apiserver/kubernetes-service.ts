/**
 * The `kubernetes` Service of `default` and its endpoints, as kube-apiserver keeps them
 * (pkg/controlplane/controller/kubernetesservice and reconcilers/lease.go). Pure: the objects
 * for a set of live API servers, and which API server Leases are live.
 *
 * - The Service: clusterIP the first address of the service range, port 443 (`https`) → 6443.
 *   It has no selector, so the Endpoints and EndpointSlice controllers leave its endpoints to
 *   the API servers.
 * - Each API server holds a Lease in `kube-system` (`apiserver-<node>`, labelled as Kubernetes'
 *   identity leases are) carrying its address; a Lease renewed within its duration is a live
 *   server (lease.go keeps the same TTL'd record per server in etcd).
 */
import { asObject, type JsonObject } from "../api/json.ts";
import { microTime } from "../api/meta-time.ts";
import {
  DEFAULT_NAMESPACE,
  KUBE_SYSTEM_NAMESPACE,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from "../api/well-known.ts";

export const KUBERNETES_SERVICE_NAME = "kubernetes";
export const KUBERNETES_SERVICE_PORT = 443;
export const KUBERNETES_SERVICE_PORT_NAME = "https";
/** Kubernetes' identity-lease label (KEP-1965), so `kubectl get leases -l` finds them. */
export const APISERVER_IDENTITY_LABEL = "apiserver.kubernetes.io/identity";
/** Where a Lease says its API server answers (`ip:port`). */
export const APISERVER_ENDPOINT_ANNOTATION = "bosun.dev/apiserver-endpoint";
/** Marks the slice as the API servers' own, so no controller takes it for its own. */
export const APISERVER_MANAGER = "kube-apiserver";

export function apiServerLeaseName(nodeId: string): string {
  return `apiserver-${nodeId}`;
}

export function kubernetesService(clusterIP: string, targetPort: number): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: KUBERNETES_SERVICE_NAME,
      namespace: DEFAULT_NAMESPACE,
      labels: { component: "apiserver", provider: "kubernetes" },
    },
    spec: {
      type: "ClusterIP",
      clusterIP,
      clusterIPs: [clusterIP],
      sessionAffinity: "None",
      ports: [
        {
          name: KUBERNETES_SERVICE_PORT_NAME,
          protocol: "TCP",
          port: KUBERNETES_SERVICE_PORT,
          targetPort,
        },
      ],
    },
  };
}

export function apiServerLease(
  nodeId: string,
  endpoint: string,
  nowWallMs: number,
  durationSeconds: number,
): JsonObject {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: apiServerLeaseName(nodeId),
      namespace: KUBE_SYSTEM_NAMESPACE,
      labels: { [APISERVER_IDENTITY_LABEL]: "kube-apiserver" },
      annotations: { [APISERVER_ENDPOINT_ANNOTATION]: endpoint },
    },
    spec: {
      holderIdentity: nodeId,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(nowWallMs),
    },
  };
}

/** The `ip:port` of every API server whose Lease was renewed within its duration, sorted. */
export function liveApiServers(leases: JsonObject[], nowWallMs: number): string[] {
  const live = new Set<string>();
  for (const lease of leases) {
    const spec = asObject(lease.spec);
    const endpoint = asObject(asObject(lease.metadata).annotations)[APISERVER_ENDPOINT_ANNOTATION];
    const renewed = Date.parse(String(spec.renewTime ?? ""));
    const seconds = Number(spec.leaseDurationSeconds ?? 0);
    if (typeof endpoint !== "string" || Number.isNaN(renewed)) continue;
    if (renewed + seconds * 1000 > nowWallMs) live.add(endpoint);
  }
  return [...live].sort();
}

function split(endpoint: string): { ip: string; port: number } {
  const colon = endpoint.lastIndexOf(":");
  return { ip: endpoint.slice(0, colon), port: Number(endpoint.slice(colon + 1)) };
}

/** The Endpoints' subsets for the live servers: one subset per port, addresses sorted. */
export function kubernetesEndpointSubsets(live: string[]): JsonObject[] {
  const byPort = new Map<number, string[]>();
  for (const e of live) {
    const { ip, port } = split(e);
    byPort.set(port, [...(byPort.get(port) ?? []), ip]);
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, ips]) => ({
      addresses: ips.sort().map((ip) => ({ ip })),
      ports: [{ name: KUBERNETES_SERVICE_PORT_NAME, port, protocol: "TCP" }],
    }));
}

/** The EndpointSlice's endpoints and ports (bosun's API servers share one port in practice). */
export function kubernetesSliceContent(live: string[]): JsonObject {
  const ports = [...new Set(live.map((e) => split(e).port))].sort((a, b) => a - b);
  return {
    addressType: "IPv4",
    endpoints: live.map((e) => ({
      addresses: [split(e).ip],
      conditions: { ready: true, serving: true, terminating: false },
    })),
    ports: ports.slice(0, 1).map((port) => ({
      name: KUBERNETES_SERVICE_PORT_NAME,
      port,
      protocol: "TCP",
    })),
  };
}

export function kubernetesSlice(live: string[]): JsonObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: KUBERNETES_SERVICE_NAME,
      namespace: DEFAULT_NAMESPACE,
      labels: {
        [SERVICE_NAME_LABEL]: KUBERNETES_SERVICE_NAME,
        [MANAGED_BY_LABEL]: APISERVER_MANAGER,
      },
    },
    ...kubernetesSliceContent(live),
  };
}
