/**
 * kube-scheduler's NodeInfo: a node with the pods bound (or assumed) to it and what they add up
 * to, kept incrementally so that a filter is O(1) in the number of pods for resources and ports.
 * Pure: built and changed by the scheduler cache, read by the plugins.
 */

import { normalizeImageName } from "../api/image-name.ts";
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import type { Labels } from "../api/label-selector.ts";
import { affinityTermsOf, type PodAffinityTerms } from "./pod-affinity-terms.ts";
import { nodeAllocatable, nonZeroRequests, podRequests, type Resources } from "./pod-requests.ts";

/** A host port a container claims: `hostIP/protocol/port` (hostIP "0.0.0.0" = every address). */
export interface HostPort {
  hostIP: string;
  protocol: string;
  port: number;
}

export const WILDCARD_HOST_IP = "0.0.0.0";

/** A pod with what the plugins read from it computed once. */
export interface PodInfo {
  readonly key: string;
  readonly pod: JsonObject;
  readonly namespace: string;
  readonly labels: Labels;
  readonly requests: Resources;
  readonly hostPorts: readonly HostPort[];
  readonly affinity: PodAffinityTerms;
  /** `spec.priority` (set at admission from the pod's PriorityClass; 0 when absent). */
  readonly priority: number;
}

export function podPriority(pod: JsonObject): number {
  const p = asObject(pod.spec).priority;
  return typeof p === "number" ? p : 0;
}

export function podKey(pod: JsonObject): string {
  const meta = asObject(pod.metadata);
  return `${asString(meta.namespace) || "default"}/${asString(meta.name)}`;
}

export function labelsOf(object: JsonObject): Labels {
  const labels = asObject(asObject(object.metadata).labels);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  return out;
}

export function hostPortsOf(pod: JsonObject): HostPort[] {
  const ports: HostPort[] = [];
  const spec = asObject(pod.spec);
  for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)]) {
    for (const p of asArray(asObject(c).ports)) {
      const port = asObject(p);
      const hostPort = port.hostPort;
      if (typeof hostPort !== "number" || hostPort <= 0) continue;
      ports.push({
        hostIP: asString(port.hostIP) || WILDCARD_HOST_IP,
        protocol: asString(port.protocol) || "TCP",
        port: hostPort,
      });
    }
  }
  return ports;
}

export function newPodInfo(pod: JsonObject): PodInfo {
  const namespace = asString(asObject(pod.metadata).namespace) || "default";
  return {
    key: podKey(pod),
    pod,
    namespace,
    affinity: affinityTermsOf(pod, namespace),
    labels: labelsOf(pod),
    requests: podRequests(pod),
    hostPorts: hostPortsOf(pod),
    priority: podPriority(pod),
  };
}

function imagesOf(node: JsonObject): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const image of asArray(asObject(node.status).images)) {
    const o = asObject(image);
    const size = typeof o.sizeBytes === "number" ? o.sizeBytes : 0;
    for (const name of asArray(o.names)) out.set(normalizeImageName(asString(name)), size);
  }
  return out;
}

export class NodeInfo {
  readonly name: string;
  readonly labels: Labels;
  readonly allocatable: Resources & { pods: number };
  /** Sum of the bound pods' requests (what NodeResourcesFit filters on). */
  readonly requested: Resources = { milliCpu: 0, memoryBytes: 0 };
  /** Sum with zero requests replaced by the scoring defaults (what the scores use). */
  readonly nonZeroRequested: Resources = { milliCpu: 0, memoryBytes: 0 };
  private readonly podsByKey = new Map<string, PodInfo>();
  /** `protocol/port` → host IPs in use. */
  private readonly usedPorts = new Map<string, string[]>();

  /** `status.images` by normalized name → size in bytes (what ImageLocality reads). */
  readonly images: ReadonlyMap<string, number>;

  constructor(readonly node: JsonObject) {
    this.name = asString(asObject(node.metadata).name);
    this.labels = labelsOf(node);
    this.allocatable = nodeAllocatable(node);
    this.images = imagesOf(node);
  }

  get pods(): IterableIterator<PodInfo> {
    return this.podsByKey.values();
  }

  get podCount(): number {
    return this.podsByKey.size;
  }

  hasPod(key: string): boolean {
    return this.podsByKey.has(key);
  }

  addPod(info: PodInfo): void {
    if (this.podsByKey.has(info.key)) this.removePod(info.key);
    this.podsByKey.set(info.key, info);
    this.adjust(info, 1);
    for (const p of info.hostPorts) {
      const k = `${p.protocol}/${p.port}`;
      this.usedPorts.set(k, [...(this.usedPorts.get(k) ?? []), p.hostIP]);
    }
  }

  removePod(key: string): PodInfo | undefined {
    const info = this.podsByKey.get(key);
    if (!info) return undefined;
    this.podsByKey.delete(key);
    this.adjust(info, -1);
    for (const p of info.hostPorts) {
      const k = `${p.protocol}/${p.port}`;
      const ips = [...(this.usedPorts.get(k) ?? [])];
      ips.splice(ips.indexOf(p.hostIP), 1);
      if (ips.length === 0) this.usedPorts.delete(k);
      else this.usedPorts.set(k, ips);
    }
    return info;
  }

  /** `HostPortInfo.CheckConflict`: same protocol and port, and either address a wildcard or equal. */
  portConflicts(port: HostPort): boolean {
    const ips = this.usedPorts.get(`${port.protocol}/${port.port}`);
    if (!ips) return false;
    if (port.hostIP === WILDCARD_HOST_IP) return true;
    return ips.some((ip) => ip === WILDCARD_HOST_IP || ip === port.hostIP);
  }

  /** A copy with the same pods and a changed Node object (a node update). */
  withNode(node: JsonObject): NodeInfo {
    const next = new NodeInfo(node);
    for (const p of this.pods) next.addPod(p);
    return next;
  }

  private adjust(info: PodInfo, sign: 1 | -1): void {
    const nz = nonZeroRequests(info.requests);
    this.requested.milliCpu += sign * info.requests.milliCpu;
    this.requested.memoryBytes += sign * info.requests.memoryBytes;
    this.nonZeroRequested.milliCpu += sign * nz.milliCpu;
    this.nonZeroRequested.memoryBytes += sign * nz.memoryBytes;
  }
}
