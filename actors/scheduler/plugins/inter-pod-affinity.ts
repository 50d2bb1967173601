/**
 * InterPodAffinity (kube-scheduler `plugins/interpodaffinity`). "The same place" is a topology
 * domain: the nodes sharing a value of the term's `topologyKey` label.
 * - Filter, in kube's order:
 *   1. an existing pod's required anti-affinity that selects the incoming pod forbids its domain
 *      (`node(s) didn't satisfy existing pods anti-affinity rules`);
 *   2. each of the pod's required affinity terms needs a selected pod in the node's domain
 *      (`node(s) didn't match pod affinity rules`), except that when no pod anywhere is selected
 *      and the pod selects itself, it may go anywhere the topology keys exist (the first pod of
 *      a group);
 *   3. none of the pod's required anti-affinity terms may select a pod in the node's domain
 *      (`node(s) didn't match pod anti-affinity rules`).
 * - Score: per domain, + the weights of the pod's preferred affinity terms selecting pods there,
 *   − those of its preferred anti-affinity terms, and symmetrically the existing pods' preferred
 *   terms (and required affinity, at weight 1) that select the incoming pod; min–max normalized.
 */
import type { Labels } from "../../api/label-selector.ts";
import {
  FITS,
  type FilterPlugin,
  MAX_NODE_SCORE,
  type NodeScorer,
  type ScorePlugin,
} from "../framework.ts";
import type { NodeInfo, PodInfo } from "../node-info.ts";
import { type AffinityTerm, termSelects } from "../pod-affinity-terms.ts";
import type { SchedulerCache } from "../scheduler-cache.ts";

export const ERR_EXISTING_ANTI_AFFINITY =
  "node(s) didn't satisfy existing pods anti-affinity rules";
export const ERR_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";

/** kube-scheduler's `hardPodAffinityWeight` default (InterPodAffinityArgs, 0..100). */
export const HARD_POD_AFFINITY_WEIGHT = 1;
export const MAX_HARD_POD_AFFINITY_WEIGHT = 100;

const domainKey = (topologyKey: string, value: string) => `${topologyKey}\u0000${value}`;

/** The domain of `node` for `topologyKey`, or null when the node lacks the label. */
function domainOf(node: NodeInfo, topologyKey: string): string | null {
  const value = node.labels[topologyKey];
  return value === undefined ? null : domainKey(topologyKey, value);
}

/** Per term, the domains holding at least one pod the term selects. */
function domainsSelected(terms: readonly AffinityTerm[], cache: SchedulerCache): Set<string>[] {
  const out = terms.map(() => new Set<string>());
  if (terms.length === 0) return out;
  for (const { info, node } of cache.placedPods()) {
    terms.forEach((term, i) => {
      if (!termSelects(term, info.namespace, info.labels)) return;
      const d = domainOf(node, term.topologyKey);
      if (d !== null) out[i]?.add(d);
    });
  }
  return out;
}

function selectsSelf(terms: readonly AffinityTerm[], pod: PodInfo): boolean {
  return terms.every((t) => termSelects(t, pod.namespace, pod.labels));
}

function labelsHaveAll(labels: Labels, terms: readonly AffinityTerm[]): boolean {
  return terms.every((t) => labels[t.topologyKey] !== undefined);
}

export const interPodAffinityFilter: FilterPlugin = {
  name: "InterPodAffinity",
  prepareFilter(pod, cache) {
    // 1. domains forbidden by existing pods' required anti-affinity
    const forbidden = new Set<string>();
    for (const { info, node } of cache.podsWithAffinity()) {
      for (const term of info.affinity.requiredAntiAffinity) {
        if (!termSelects(term, pod.namespace, pod.labels)) continue;
        const d = domainOf(node, term.topologyKey);
        if (d !== null) forbidden.add(d);
      }
    }
    const { requiredAffinity, requiredAntiAffinity } = pod.affinity;
    if (forbidden.size === 0 && requiredAffinity.length === 0 && requiredAntiAffinity.length === 0)
      return null;
    const affinityDomains = domainsSelected(requiredAffinity, cache);
    const antiDomains = domainsSelected(requiredAntiAffinity, cache);
    const noneSelectedAnywhere = affinityDomains.every((s) => s.size === 0);
    const firstOfGroup = noneSelectedAnywhere && selectsSelf(requiredAffinity, pod);
    const existingAnti = [ERR_EXISTING_ANTI_AFFINITY];
    const affinityMiss = [ERR_AFFINITY];
    const antiHit = [ERR_ANTI_AFFINITY];
    const forbiddenKeys = [...new Set([...forbidden].map((d) => d.split("\u0000")[0] as string))];
    return (node) => {
      for (const key of forbiddenKeys) {
        const d = domainOf(node, key);
        if (d !== null && forbidden.has(d)) return existingAnti;
      }
      if (requiredAffinity.length > 0) {
        if (firstOfGroup) {
          if (!labelsHaveAll(node.labels, requiredAffinity)) return affinityMiss;
        } else {
          const ok = requiredAffinity.every((term, i) => {
            const d = domainOf(node, term.topologyKey);
            return d !== null && (affinityDomains[i]?.has(d) ?? false);
          });
          if (!ok) return affinityMiss;
        }
      }
      for (let i = 0; i < requiredAntiAffinity.length; i++) {
        const term = requiredAntiAffinity[i] as AffinityTerm;
        const d = domainOf(node, term.topologyKey);
        if (d !== null && antiDomains[i]?.has(d)) return antiHit;
      }
      return FITS;
    };
  },
};

/**
 * The Score, with InterPodAffinityArgs' `hardPodAffinityWeight`: how much an existing pod's
 * *required* affinity for the incoming pod counts as a preference in the other direction.
 */
export function interPodAffinityScoreWith(hardPodAffinityWeight: number): ScorePlugin {
  return {
    name: "InterPodAffinity",
    prepareScore: (pod, cache) => interPodAffinityScorer(pod, cache, hardPodAffinityWeight),
  };
}

export const interPodAffinityScore = interPodAffinityScoreWith(HARD_POD_AFFINITY_WEIGHT);

function interPodAffinityScorer(
  pod: PodInfo,
  cache: SchedulerCache,
  hardPodAffinityWeight: number,
): NodeScorer | null {
  const { preferredAffinity, preferredAntiAffinity } = pod.affinity;
  const domainScores = new Map<string, number>();
  const add = (node: NodeInfo, term: AffinityTerm, weight: number) => {
    const d = domainOf(node, term.topologyKey);
    if (d !== null) domainScores.set(d, (domainScores.get(d) ?? 0) + weight);
  };
  if (preferredAffinity.length + preferredAntiAffinity.length > 0) {
    for (const { info, node } of cache.placedPods()) {
      for (const { weight, term } of preferredAffinity)
        if (termSelects(term, info.namespace, info.labels)) add(node, term, weight);
      for (const { weight, term } of preferredAntiAffinity)
        if (termSelects(term, info.namespace, info.labels)) add(node, term, -weight);
    }
  }
  // symmetry: existing pods' terms that select the incoming pod
  for (const { info, node } of cache.podsWithAffinity()) {
    const a = info.affinity;
    for (const term of a.requiredAffinity)
      if (termSelects(term, pod.namespace, pod.labels)) add(node, term, hardPodAffinityWeight);
    for (const { weight, term } of a.preferredAffinity)
      if (termSelects(term, pod.namespace, pod.labels)) add(node, term, weight);
    for (const { weight, term } of a.preferredAntiAffinity)
      if (termSelects(term, pod.namespace, pod.labels)) add(node, term, -weight);
  }
  if (domainScores.size === 0) return null;
  const entries = [...domainScores].map(([d, s]) => {
    const [key = "", value = ""] = d.split("\u0000");
    return { key, value, s };
  });
  return {
    score: (node) =>
      entries.reduce((sum, e) => sum + (node.labels[e.key] === e.value ? e.s : 0), 0),
    normalize: (scores) => {
      const min = Math.min(...scores);
      const max = Math.max(...scores);
      for (let i = 0; i < scores.length; i++)
        scores[i] =
          max === min
            ? 0
            : Math.floor((((scores[i] as number) - min) * MAX_NODE_SCORE) / (max - min));
    },
  };
}
