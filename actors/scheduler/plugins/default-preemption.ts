/**
 * DefaultPreemption (kube-scheduler `plugins/defaultpreemption` and `framework/preemption`), a
 * PostFilter: when no node fits a pod, find a node where it would fit once some pods of lower
 * priority are gone, and the fewest, least important such pods.
 *
 * - Eligible: the pod's `preemptionPolicy` is not `Never`, and it is not already waiting for
 *   the victims of an earlier preemption to go (a lower-priority pod still terminating on its
 *   `status.nominatedNodeName`): preempting again would take more than needed.
 * - On each node (`selectVictimsOnNode`): remove every pod of lower priority; if the pod still
 *   does not pass the Filters there, the node is no candidate. Otherwise give the removed pods
 *   back one at a time, most important first (higher priority, then longer running), those
 *   whose eviction would break a PodDisruptionBudget before the others: a pod that can come
 *   back with the preemptor still fitting is spared (reprieved); the rest are the victims.
 * - Among candidates (`pickOneNodeForPreemption`), in order: the fewest PDB violations, the
 *   lowest highest-victim priority, the smallest sum of victim priorities, the fewest victims,
 *   the latest start of the most important victim; then the first in node order.
 * The plugin is pure: the scheduler deletes the victims and sets `status.nominatedNodeName`;
 * while the pod waits, NodeResourcesFit holds the room for it (the cache's nominated pods).
 *
 * A budget counts as it does in kube: its `status.disruptionsAllowed`, taken down by one for
 * each victim it selects; a victim that takes it below zero violates it. Simplification:
 * the pod's Filters are prepared once against the cluster as it is, so inter-pod
 * (anti-)affinity to a victim still counts on the what-if node (kube's AddPod/RemovePod
 * PreFilter extensions update it); such a node may be passed over, never wrongly chosen.
 */
import { asObject, asString } from "../../api/json.ts";
import { matches } from "../../api/label-selector.ts";
import type { FilterRunner, PostFilterPlugin, PostFilterResult } from "../framework.ts";
import type { NodeInfo, PodInfo } from "../node-info.ts";
import type { PdbInfo, SchedulerCache } from "../scheduler-cache.ts";

export interface PreemptionCandidate {
  nodeName: string;
  /** Most important first. */
  victims: PodInfo[];
  pdbViolations: number;
}

/** When a pod started running (its `status.startTime`, else its creation), for tie-breaking. */
export function podStartMs(pod: PodInfo): number {
  const status = asObject(pod.pod.status);
  const t = Date.parse(
    asString(status.startTime) || asString(asObject(pod.pod.metadata).creationTimestamp),
  );
  return Number.isNaN(t) ? 0 : t;
}

/** kube's `MoreImportantPod`: higher priority, then the one running longer. */
export function moreImportant(a: PodInfo, b: PodInfo): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return podStartMs(a) - podStartMs(b);
}

/** kube's `filterPodsWithPDBViolation`: which of `pods` (in order) would break a budget. */
export function splitByPdbViolation(
  pods: readonly PodInfo[],
  pdbs: readonly PdbInfo[],
): { violating: PodInfo[]; nonViolating: PodInfo[] } {
  const allowed = pdbs.map((p) => p.disruptionsAllowed);
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pod of pods) {
    let violated = false;
    if (Object.keys(pod.labels).length > 0) {
      pdbs.forEach((pdb, i) => {
        if (pdb.namespace !== pod.namespace) return;
        // as kube: an empty selector protects nothing here
        if (pdb.selector.requirements.length === 0 || !matches(pdb.selector, pod.labels)) return;
        allowed[i] = (allowed[i] as number) - 1;
        if ((allowed[i] as number) < 0) violated = true;
      });
    }
    (violated ? violating : nonViolating).push(pod);
  }
  return { violating, nonViolating };
}

/** The victims `pod` needs on `node` (null: removing every lower-priority pod is not enough). */
export function selectVictimsOnNode(
  pod: PodInfo,
  node: NodeInfo,
  pdbs: readonly PdbInfo[],
  runFilters: FilterRunner,
): PreemptionCandidate | null {
  const lower = [...node.pods].filter((p) => p.priority < pod.priority);
  if (lower.length === 0) return null;
  const whatIf = node.withNode(node.node);
  for (const p of lower) whatIf.removePod(p.key);
  if (runFilters(whatIf).length > 0) return null;
  lower.sort(moreImportant);
  const { violating, nonViolating } = splitByPdbViolation(lower, pdbs);
  const victims: PodInfo[] = [];
  let pdbViolations = 0;
  const reprieve = (p: PodInfo, violates: boolean) => {
    whatIf.addPod(p);
    if (runFilters(whatIf).length === 0) return; // spared
    whatIf.removePod(p.key);
    victims.push(p);
    if (violates) pdbViolations++;
  };
  for (const p of violating) reprieve(p, true);
  for (const p of nonViolating) reprieve(p, false);
  victims.sort(moreImportant);
  return { nodeName: node.name, victims, pdbViolations };
}

/** kube's `pickOneNodeForPreemption` over candidates (in node order). */
export function pickOneNodeForPreemption(
  candidates: readonly PreemptionCandidate[],
): PreemptionCandidate | null {
  const criteria: ((c: PreemptionCandidate) => number)[] = [
    (c) => c.pdbViolations,
    (c) => c.victims[0]?.priority ?? Number.NEGATIVE_INFINITY,
    // kube offsets each priority by MaxInt32+1 so that more victims always weigh more
    (c) => c.victims.reduce((sum, v) => sum + v.priority + 2 ** 31, 0),
    (c) => c.victims.length,
    (c) => -(c.victims[0] ? podStartMs(c.victims[0]) : 0), // latest start is best
  ];
  let best = [...candidates];
  for (const criterion of criteria) {
    if (best.length <= 1) break;
    const min = Math.min(...best.map(criterion));
    best = best.filter((c) => criterion(c) === min);
  }
  return best[0] ?? null;
}

/** kube's `PodEligibleToPreemptOthers`. */
export function eligibleToPreempt(pod: PodInfo, cache: SchedulerCache): boolean {
  if (asString(asObject(pod.pod.spec).preemptionPolicy) === "Never") return false;
  const nominated = asString(asObject(pod.pod.status).nominatedNodeName);
  if (nominated === "") return true;
  const node = cache.node(nominated);
  if (node === undefined) return true;
  for (const p of node.pods)
    if (p.priority < pod.priority && asObject(p.pod.metadata).deletionTimestamp !== undefined)
      return false; // the earlier victims are still going
  return true;
}

export const defaultPreemption: PostFilterPlugin = {
  name: "DefaultPreemption",
  postFilter(pod, cache, _state, _diagnosis, runFilters): PostFilterResult | null {
    if (!eligibleToPreempt(pod, cache)) return null;
    const pdbs = [...cache.pdbs()];
    const candidates: PreemptionCandidate[] = [];
    for (const node of cache.nodeList()) {
      const c = selectVictimsOnNode(pod, node, pdbs, runFilters);
      if (c !== null) candidates.push(c);
    }
    const chosen = pickOneNodeForPreemption(candidates);
    return chosen === null ? null : { nominatedNodeName: chosen.nodeName, victims: chosen.victims };
  },
};
