/**
 * kube-scheduler's cache: the nodes and the pods bound to them, plus pods *assumed* onto a node
 * by a scheduling decision whose binding has not been observed yet (so the next decision already
 * counts them). Fed by the informers' handlers; read by the framework as the cluster snapshot.
 * An assumed pod lives until the informer shows it bound (confirmed), its binding fails
 * (forgotten) or, once its binding has succeeded, ASSUMED_POD_TTL_MS pass without the
 * confirmation (expired).
 * Pure: no I/O; time comes in as `nowMs` arguments.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelector,
  type LabelSelectorObject,
} from "../api/label-selector.ts";
import { NodeInfo, newPodInfo, type PodInfo, podKey } from "./node-info.ts";
import { hasAffinityTerms } from "./pod-affinity-terms.ts";
import type { Resources } from "./pod-requests.ts";

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

/**
 * How long an assumed pod whose binding succeeded waits for the informer to show it bound before
 * it is dropped (kube's durationToExpireAssumedPod, 15 min there). bosun's informers see a
 * binding within a second or two even under the workloads bench, so a minute leaves ample room
 * for a lagging watch while a lost confirmation frees the node's room within a minute, not 15.
 */
export const ASSUMED_POD_TTL_MS = 60_000;

/** A PodDisruptionBudget as preemption reads it (kube reads the budgets' status the same way). */
export interface PdbInfo {
  readonly key: string;
  readonly namespace: string;
  readonly selector: LabelSelector;
  /** `status.disruptionsAllowed`: how many of its pods may go now. */
  readonly disruptionsAllowed: number;
}

export function pdbInfoOf(pdb: JsonObject): PdbInfo | null {
  const meta = asObject(pdb.metadata);
  const namespace = asString(meta.namespace) || "default";
  let selector: LabelSelector;
  try {
    // policy/v1: a null selector selects nothing, an empty one every pod of the namespace
    selector = fromLabelSelectorObject(
      asObject(pdb.spec).selector as unknown as LabelSelectorObject | undefined,
    );
  } catch {
    return null; // validation refuses such selectors; one that slipped in protects nothing
  }
  const allowed = asObject(pdb.status).disruptionsAllowed;
  return {
    key: `${namespace}/${asString(meta.name)}`,
    namespace,
    selector,
    disruptionsAllowed: typeof allowed === "number" ? allowed : 0,
  };
}

export class SchedulerCache {
  private readonly nodes = new Map<string, NodeInfo>();
  /** Every pod counted on some node (bound or assumed): key → node name. */
  private readonly placement = new Map<string, string>();
  private readonly podInfos = new Map<string, PodInfo>();
  private readonly assumed = new Set<string>();
  /**
   * Assumed pods whose binding succeeded → when they expire. Map order is deadline order: each
   * deadline is `nowMs` + one constant TTL, set in call order with a monotonic `nowMs`.
   */
  private readonly assumedDeadlines = new Map<string, number>();
  private latestDeadlineMs = Number.NEGATIVE_INFINITY;
  /** Placed pods that carry inter-pod (anti-)affinity terms: the only ones whose terms matter. */
  private readonly withAffinity = new Set<string>();
  private nodeListCache: NodeInfo[] | null = null;
  private readonly budgets = new Map<string, PdbInfo>();
  /** Pending pods nominated to a node by preemption: node → pod key → pod. */
  private readonly nominated = new Map<string, Map<string, PodInfo>>();
  private readonly nominatedNodeOf = new Map<string, string>();

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
    // a node's update (every node's status, every few seconds) keeps its place in the sorted
    // list: replaced there, not re-sorted on the next cycle
    const at = old && this.nodeListCache ? this.nodeListCache.indexOf(old) : -1;
    if (at >= 0) (this.nodeListCache as NodeInfo[])[at] = info;
    else this.nodeListCache = null;
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
    this.assumedDeadlines.delete(key);
  }

  removePod(key: string): void {
    const nodeName = this.placement.get(key);
    if (nodeName !== undefined) this.nodes.get(nodeName)?.removePod(key);
    this.placement.delete(key);
    this.podInfos.delete(key);
    this.assumed.delete(key);
    this.assumedDeadlines.delete(key);
    this.withAffinity.delete(key);
  }

  /**
   * Counts `info` on `nodeName` before the binding is observed (kube's AssumePod). It does not
   * expire while its binding is in flight: only `forget` or a confirmation removes it then.
   */
  assume(info: PodInfo, nodeName: string): void {
    this.place(info, nodeName);
    this.assumed.add(info.key);
    this.assumedDeadlines.delete(info.key);
  }

  /**
   * The assumed pod's binding succeeded (kube's FinishBinding): from now it expires unless the
   * informer confirms it within ASSUMED_POD_TTL_MS. No-op if it was confirmed already.
   */
  finishBinding(key: string, nowMs: number): void {
    if (!this.assumed.has(key)) return;
    const deadlineMs = nowMs + ASSUMED_POD_TTL_MS;
    // expireAssumedPods stops at the first live deadline: out of order, a pod would outlive its TTL
    if (deadlineMs < this.latestDeadlineMs)
      throw new Error(`scheduler cache: time went backwards (${nowMs} ms)`);
    this.latestDeadlineMs = deadlineMs;
    this.assumedDeadlines.delete(key);
    this.assumedDeadlines.set(key, deadlineMs);
  }

  /** Drops assumed pods never confirmed within their TTL (kube's cleanupAssumedPods); their keys. */
  expireAssumedPods(nowMs: number): string[] {
    const expired: string[] = [];
    for (const [key, deadlineMs] of this.assumedDeadlines) {
      if (deadlineMs > nowMs) break;
      expired.push(key);
    }
    for (const key of expired) this.removePod(key);
    return expired;
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

  // ---- nominated pods (kube's nominator) ------------------------------------------------------

  /**
   * A pending pod's `status.nominatedNodeName` (`clearNominatedPod`: none, bound, or gone). While a
   * preemptor waits for its victims to go, the room they free is held for it: pods of no higher
   * priority do not count on it (see `nominatedRequests`).
   */
  setNominatedPod(info: PodInfo, nodeName: string): void {
    this.clearNominatedPod(info.key);
    let pods = this.nominated.get(nodeName);
    if (pods === undefined) {
      pods = new Map();
      this.nominated.set(nodeName, pods);
    }
    pods.set(info.key, info);
    this.nominatedNodeOf.set(info.key, nodeName);
  }

  clearNominatedPod(key: string): void {
    const previous = this.nominatedNodeOf.get(key);
    if (previous === undefined) return;
    const pods = this.nominated.get(previous);
    pods?.delete(key);
    if (pods?.size === 0) this.nominated.delete(previous);
    this.nominatedNodeOf.delete(key);
  }

  hasNominatedPods(): boolean {
    return this.nominatedNodeOf.size > 0;
  }

  /**
   * What the pods nominated to `nodeName` with at least `pod`'s priority hold there (kube's
   * `addNominatedPods`: a pod never takes room saved for a more important one), or null.
   */
  nominatedRequests(nodeName: string, pod: PodInfo): (Resources & { pods: number }) | null {
    const pods = this.nominated.get(nodeName);
    if (pods === undefined) return null;
    const held = { milliCpu: 0, memoryBytes: 0, pods: 0 };
    for (const other of pods.values()) {
      if (other.key === pod.key || other.priority < pod.priority) continue;
      held.milliCpu += other.requests.milliCpu;
      held.memoryBytes += other.requests.memoryBytes;
      held.pods++;
    }
    return held.pods === 0 ? null : held;
  }

  // ---- disruption budgets (what preemption must respect) -------------------------------------

  setPdb(pdb: JsonObject): void {
    const info = pdbInfoOf(pdb);
    if (info !== null) this.budgets.set(info.key, info);
  }

  removePdb(key: string): void {
    this.budgets.delete(key);
  }

  pdbs(): IterableIterator<PdbInfo> {
    return this.budgets.values();
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
