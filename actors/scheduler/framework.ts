/**
 * kube-scheduler's scheduling framework, reduced to its pure core: for one pod, every filter
 * plugin says which nodes are feasible (and why the others are not); every score plugin gives
 * each feasible node 0–100 (after its own normalization), weighted and summed; the highest total
 * wins, ties broken by a seeded random choice among the best (kube's `selectHost` reservoir
 * sampling). Plugins `prepare` once per pod (kube's PreFilter/PreScore) and return null when the
 * pod gives them nothing to check, which is what keeps 10,000 pods × 1,000 nodes fast.
 */
import { SeededRandom } from "../system/random.ts";
import type { NodeInfo, PodInfo } from "./node-info.ts";
import type { SchedulerCache } from "./scheduler-cache.ts";

export const MAX_NODE_SCORE = 100;

/** No reasons: the node passes. */
export const FITS: readonly string[] = Object.freeze([]);

export type NodeFilter = (node: NodeInfo) => readonly string[];

export interface FilterPlugin {
  readonly name: string;
  /** A per-pod filter, or null when this plugin cannot reject any node for this pod. */
  prepareFilter(pod: PodInfo, cache: SchedulerCache): NodeFilter | null;
}

export interface NodeScorer {
  /** A raw score for one feasible node. */
  score(node: NodeInfo): number;
  /** Maps the raw scores (in feasible-node order) into 0..MAX_NODE_SCORE in place. */
  normalize?(scores: number[]): void;
}

export interface ScorePlugin {
  readonly name: string;
  /** kube-scheduler's default weights: TaintToleration 3, NodeAffinity 2, InterPodAffinity 2, … */
  readonly weight: number;
  prepareScore(
    pod: PodInfo,
    cache: SchedulerCache,
    feasible: readonly NodeInfo[],
  ): NodeScorer | null;
}

export interface Profile {
  readonly filters: readonly FilterPlugin[];
  readonly scores: readonly ScorePlugin[];
}

/** Why each node was rejected: reason → how many nodes. */
export type Diagnosis = Map<string, number>;

export interface FilterResult {
  feasible: NodeInfo[];
  diagnosis: Diagnosis;
}

export function findFeasibleNodes(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
): FilterResult {
  const filters: NodeFilter[] = [];
  for (const plugin of profile.filters) {
    const f = plugin.prepareFilter(pod, cache);
    if (f !== null) filters.push(f);
  }
  const feasible: NodeInfo[] = [];
  const diagnosis: Diagnosis = new Map();
  for (const node of cache.nodeList()) {
    let rejected = false;
    for (const f of filters) {
      const reasons = f(node);
      if (reasons.length === 0) continue;
      // like kube-scheduler, the first plugin that rejects a node is the one reported
      for (const r of reasons) diagnosis.set(r, (diagnosis.get(r) ?? 0) + 1);
      rejected = true;
      break;
    }
    if (!rejected) feasible.push(node);
  }
  return { feasible, diagnosis };
}

/** Weighted total per feasible node (same order). */
export function scoreNodes(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
  feasible: readonly NodeInfo[],
): number[] {
  const totals = new Array<number>(feasible.length).fill(0);
  if (feasible.length <= 1) return totals; // one node needs no ranking (kube skips scoring too)
  for (const plugin of profile.scores) {
    const scorer = plugin.prepareScore(pod, cache, feasible);
    if (scorer === null) continue;
    const scores = feasible.map((n) => scorer.score(n));
    scorer.normalize?.(scores);
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i] as number;
      if (!(s >= 0 && s <= MAX_NODE_SCORE))
        throw new Error(`score plugin ${plugin.name} gave ${s}, outside 0..${MAX_NODE_SCORE}`);
      totals[i] = (totals[i] as number) + s * plugin.weight;
    }
  }
  return totals;
}

/** The index of the best score; among equals, each is chosen with equal chance from `random`. */
export function selectHost(totals: readonly number[], random: () => number): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  let ties = 0;
  for (let i = 0; i < totals.length; i++) {
    const s = totals[i] as number;
    if (s > bestScore) {
      best = i;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties++;
      if (random() * ties < 1) best = i; // reservoir sampling: keeps each tie with 1/ties
    }
  }
  return best;
}

/** kube-scheduler's FitError message: `0/3 nodes are available: 1 Insufficient cpu, 2 ….` */
export function fitErrorMessage(nodeCount: number, diagnosis: Diagnosis): string {
  const reasons = [...diagnosis].map(([reason, count]) => `${count} ${reason}`).sort();
  const head = `0/${nodeCount} nodes are available`;
  return reasons.length === 0 ? `${head}.` : `${head}: ${reasons.join(", ")}.`;
}

export type ScheduleResult =
  | { ok: true; nodeName: string; feasibleCount: number }
  | { ok: false; message: string; diagnosis: Diagnosis };

/** One scheduling decision: filter, score, select. Does not assume or bind. */
export function schedulePod(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
  random: () => number,
): ScheduleResult {
  const { feasible, diagnosis } = findFeasibleNodes(profile, pod, cache);
  if (feasible.length === 0)
    return {
      ok: false,
      message: fitErrorMessage(cache.nodeList().length, diagnosis),
      diagnosis,
    };
  const totals = scoreNodes(profile, pod, cache, feasible);
  const chosen = feasible[selectHost(totals, random)] as NodeInfo;
  return { ok: true, nodeName: chosen.name, feasibleCount: feasible.length };
}

/** Reproducible tie-breaking: the tree's one seeded PRNG as a `() => number`. */
export function seededRandom(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

/**
 * kube-scheduler's `helper.DefaultNormalizeScore`: scale so the highest becomes MAX_NODE_SCORE
 * (all zero stays zero, or all MAX when reversed); `reverse` flips it (fewer is better).
 */
export function defaultNormalizeScore(scores: number[], reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  for (let i = 0; i < scores.length; i++) {
    if (max === 0) {
      scores[i] = reverse ? MAX_NODE_SCORE : 0;
      continue;
    }
    const scaled = Math.floor(((scores[i] as number) * MAX_NODE_SCORE) / max);
    scores[i] = reverse ? MAX_NODE_SCORE - scaled : scaled;
  }
}
