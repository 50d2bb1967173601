/**
 * kube-scheduler's cache: the nodes and the pods bound to them, plus pods *assumed* onto a node
 * by a scheduling decision whose binding has not been observed yet (so the next decision already
 * counts them). Fed by the informers' handlers; read by the framework as the cluster snapshot.
 * Pure: no I/O, no clock.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { NodeInfo, newPodInfo, type PodInfo, podKey } from "./node-info.ts";
import { hasAffinityTerms } from "./pod-affinity-terms.ts";

/** A bound pod's node, or null for a pod not bound yet. */
export function nodeNameOf(pod: JsonObject): string | null {
  const name = asString(asObject(pod.spec).nodeName);
  return name === "" ? null : name;
}

/** Pods that ended free their resources (kube-scheduler skips terminated pods). */
export function isTerminated(pod: JsonObject): boolean {
  const phase = asString(asObject(pod.status).phase);
  return phase === "Succeeded" || phase === "Failed";
}

export class SchedulerCache {
  private readonly nodes = new Map<string, NodeInfo>();
  /** Every pod counted on some node (bound or assumed): key → node name. */
  private readonly placement = new Map<string, string>();
  private readonly podInfos = new Map<string, PodInfo>();
  private readonly assumed = new Set<string>();
  /** Placed pods that carry inter-pod (anti-)affinity terms: the only ones whose terms matter. */
  private readonly withAffinity = new Set<string>();
  private nodeListCache: NodeInfo[] | null = null;

  // ---- nodes ---------------------------------------------------------------------------------

  setNode(node: JsonObject): void {
    const name = asString(asObject(node.metadata).name);
    const old = this.nodes.get(name);
    const info = old ? old.withNode(node) : new NodeInfo(node);
    if (!old) {
      // pods observed bound to this node before the node itself
      for (const [key, n] of this.placement) {
        const p = this.podInfos.get(key);
        if (n === name && p) info.addPod(p);
      }
    }
    this.nodes.set(name, info);
    this.nodeListCache = null;
  }

  removeNode(name: string): void {
    this.nodes.delete(name);
    this.nodeListCache = null;
  }

  node(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  /** Every node, sorted by name (the snapshot's order, so that ties break reproducibly). */
  nodeList(): readonly NodeInfo[] {
    if (this.nodeListCache === null)
      this.nodeListCache = [...this.nodes.values()].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
    return this.nodeListCache;
  }

  // ---- pods ----------------------------------------------------------------------------------

  /** A pod add/update: counted on its node when bound and running, forgotten otherwise. */
  setPod(pod: JsonObject): void {
    const key = podKey(pod);
    const nodeName = nodeNameOf(pod);
    if (nodeName === null || isTerminated(pod)) {
      // an assumed pod stays until its binding is observed or it is forgotten
      if (!this.assumed.has(key)) this.removePod(key);
      return;
    }
    this.place(newPodInfo(pod), nodeName);
    this.assumed.delete(key);
  }

  removePod(key: string): void {
    const nodeName = this.placement.get(key);
    if (nodeName !== undefined) this.nodes.get(nodeName)?.removePod(key);
    this.placement.delete(key);
    this.podInfos.delete(key);
    this.assumed.delete(key);
    this.withAffinity.delete(key);
  }

  /** Counts `info` on `nodeName` before the binding is observed (kube's AssumePod). */
  assume(info: PodInfo, nodeName: string): void {
    this.place(info, nodeName);
    this.assumed.add(info.key);
  }

  /** Undoes `assume` after a failed binding (kube's ForgetPod). */
  forget(key: string): void {
    if (this.assumed.has(key)) this.removePod(key);
  }

  isAssumed(key: string): boolean {
    return this.assumed.has(key);
  }

  /** Every counted pod with its node (inter-pod affinity reads these). */
  *placedPods(): IterableIterator<{ info: PodInfo; node: NodeInfo }> {
    for (const node of this.nodeList()) for (const info of node.pods) yield { info, node };
  }

  /** Placed pods with (anti-)affinity terms of their own, with their nodes. */
  *podsWithAffinity(): IterableIterator<{ info: PodInfo; node: NodeInfo }> {
    for (const key of this.withAffinity) {
      const info = this.podInfos.get(key);
      const node = this.nodes.get(this.placement.get(key) ?? "");
      if (info && node) yield { info, node };
    }
  }

  podCount(): number {
    return this.placement.size;
  }

  private place(info: PodInfo, nodeName: string): void {
    const previous = this.placement.get(info.key);
    if (previous !== undefined) this.nodes.get(previous)?.removePod(info.key);
    this.placement.set(info.key, nodeName);
    this.podInfos.set(info.key, info);
    if (hasAffinityTerms(info.affinity)) this.withAffinity.add(info.key);
    else this.withAffinity.delete(info.key);
    this.nodes.get(nodeName)?.addPod(info);
  }
}
