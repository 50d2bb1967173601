/**
 * The Node object and the node Lease a kubelet keeps, built from what it knows of its machine.
 * Pure: the caller passes the time.
 */

import { arch, cpus, hostname, release, totalmem } from "node:os";
import type { JsonObject } from "../api/json.ts";
import { microTime, rfc3339 } from "../api/meta-time.ts";
import { ARCH_LABEL, HOSTNAME_LABEL, NODE_LEASE_NAMESPACE, OS_LABEL } from "../api/well-known.ts";

export const KUBELET_VERSION = "v1.31.0-bosun";

export interface NodeFacts {
  nodeName: string;
  hostIP: string;
  capacity: Record<string, string>;
  labels: Record<string, string>;
  taints: JsonObject[];
  maxPods: number;
  /** The node's pod range (`spec.podCIDR`, what the route controller routes to it). */
  podCIDR?: string;
}

/** This machine's capacity: cpus, memory (Ki), pods. */
export function machineCapacity(maxPods: number): Record<string, string> {
  return {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: String(maxPods),
    "ephemeral-storage": "100Gi",
  };
}

/** Node.js' arch names as Go's GOARCH (what kubernetes.io/arch carries). */
export function goArch(): string {
  const a = arch();
  return a === "x64" ? "amd64" : a === "ia32" ? "386" : a;
}

export function nodeLabels(
  nodeName: string,
  extra: Record<string, string>,
): Record<string, string> {
  return {
    [HOSTNAME_LABEL]: nodeName,
    [OS_LABEL]: "linux",
    [ARCH_LABEL]: goArch(),
    "beta.kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": goArch(),
    ...extra,
  };
}

export function nodeObject(facts: NodeFacts): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: facts.nodeName, labels: facts.labels },
    spec: {
      ...(facts.taints.length > 0 ? { taints: facts.taints } : {}),
      ...(facts.podCIDR ? { podCIDR: facts.podCIDR, podCIDRs: [facts.podCIDR] } : {}),
    },
  };
}

export function nodeStatus(facts: NodeFacts, nowMs: number, readySinceMs: number): JsonObject {
  const now = rfc3339(nowMs);
  const healthy = (type: string, reason: string, message: string): JsonObject => ({
    type,
    status: "False",
    lastHeartbeatTime: now,
    lastTransitionTime: rfc3339(readySinceMs),
    reason,
    message,
  });
  return {
    capacity: facts.capacity,
    allocatable: facts.capacity,
    conditions: [
      healthy(
        "MemoryPressure",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
      ),
      healthy("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      healthy("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      {
        type: "Ready",
        status: "True",
        lastHeartbeatTime: now,
        lastTransitionTime: rfc3339(readySinceMs),
        reason: "KubeletReady",
        message: "kubelet is posting ready status",
      },
    ],
    addresses: [
      { type: "InternalIP", address: facts.hostIP },
      { type: "Hostname", address: facts.nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: facts.nodeName,
      systemUUID: facts.nodeName,
      bootID: "",
      kernelVersion: release(),
      osImage: `bosun on ${hostname()}`,
      containerRuntimeVersion: "bosun-process://0.1.0",
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: KUBELET_VERSION,
      operatingSystem: "linux",
      architecture: goArch(),
    },
  };
}

export function leaseObject(
  nodeName: string,
  nowMs: number,
  durationSeconds: number,
  nodeUid: string | null,
): JsonObject {
  const metadata: JsonObject = { name: nodeName, namespace: NODE_LEASE_NAMESPACE };
  // Kubernetes makes the Node own its Lease, so deleting the Node collects it
  if (nodeUid)
    metadata.ownerReferences = [{ apiVersion: "v1", kind: "Node", name: nodeName, uid: nodeUid }];
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata,
    spec: {
      holderIdentity: nodeName,
      leaseDurationSeconds: durationSeconds,
      acquireTime: microTime(nowMs),
      renewTime: microTime(nowMs),
    },
  };
}
