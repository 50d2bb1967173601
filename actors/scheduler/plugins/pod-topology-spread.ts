/**
 * PodTopologySpread (kube-scheduler `plugins/podtopologyspread`): a pod's
 * `topologySpreadConstraints` keep the pods its `labelSelector` selects (in its namespace)
 * evenly spread over topology domains (the values of `topologyKey` on the nodes).
 * - Filter (`whenUnsatisfiable: DoNotSchedule`): a node without the key is rejected; otherwise
 *   placing the pod there must keep `count(domain) + self − min(count over domains) ≤ maxSkew`,
 *   where `self` is 1 when the pod matches its own selector, and the minimum is 0 while there
 *   are fewer domains than `minDomains`. Domains are those of the nodes the pod's node selector
 *   and required node affinity allow (`nodeAffinityPolicy: Honor`, the default).
 * - Score (`ScheduleAnyway`): fewer selected pods in the node's domain is better; each
 *   constraint weighs `log(domains + 2)` (kube's `topologyNormalizingWeight`), the totals are
 *   reversed into 0..100 (kube's NormalizeScore); a node without a key scores 0.
 * Simplification: kube's system default constraints (for pods of Services and ReplicaSets
 * without their own) are not applied; `matchLabelKeys` and `nodeTaintsPolicy` are not read.
 */
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelector,
  type LabelSelectorObject,
  matches,
} from "../../api/label-selector.ts";
import {
  FITS,
  type FilterPlugin,
  MAX_NODE_SCORE,
  type NodeFilter,
  type ScorePlugin,
} from "../framework.ts";
import type { NodeInfo, PodInfo } from "../node-info.ts";
import type { SchedulerCache } from "../scheduler-cache.ts";
import { nodeAffinityFilter } from "./node-affinity.ts";

export const ERR_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints";
export const ERR_MISSING_LABEL =
  "node(s) didn't match pod topology spread constraints (missing required label)";

export interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  hard: boolean;
  selector: LabelSelector;
  minDomains: number;
}

export function spreadConstraintsOf(pod: JsonObject): SpreadConstraint[] {
  const out: SpreadConstraint[] = [];
  for (const c of asArray(asObject(pod.spec).topologySpreadConstraints)) {
    const o = asObject(c);
    let selector: LabelSelector;
    try {
      selector = fromLabelSelectorObject(
        o.labelSelector as unknown as LabelSelectorObject | undefined,
      );
    } catch {
      continue; // validation refuses such a selector; one that slipped in constrains nothing
    }
    out.push({
      maxSkew: typeof o.maxSkew === "number" ? o.maxSkew : 1,
      topologyKey: asString(o.topologyKey),
      hard: asString(o.whenUnsatisfiable) !== "ScheduleAnyway",
      selector,
      minDomains: typeof o.minDomains === "number" ? o.minDomains : 1,
    });
  }
  return out;
}

/** Selected pods per domain of `c.topologyKey`, over `nodes` (every domain present, maybe 0). */
export function countByDomain(
  c: SpreadConstraint,
  pod: PodInfo,
  nodes: Iterable<NodeInfo>,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of nodes) {
    const domain = node.labels[c.topologyKey];
    if (domain === undefined) continue;
    let n = counts.get(domain) ?? 0;
    for (const p of node.pods)
      if (p.namespace === pod.namespace && matches(c.selector, p.labels)) n++;
    counts.set(domain, n);
  }
  return counts;
}

/** The nodes whose domains count for the pod: those its node selector and affinity allow. */
function eligibleNodes(pod: PodInfo, cache: SchedulerCache): NodeInfo[] {
  const affinity = nodeAffinityFilter.prepareFilter(pod, cache, undefined as never);
  const nodes = cache.nodeList();
  return affinity === null ? [...nodes] : nodes.filter((n) => affinity(n).length === 0);
}

export const podTopologySpreadFilter: FilterPlugin = {
  name: "PodTopologySpread",
  prepareFilter(pod, cache): NodeFilter | null {
    const constraints = spreadConstraintsOf(pod.pod).filter((c) => c.hard);
    if (constraints.length === 0) return null;
    const nodes = eligibleNodes(pod, cache);
    const prepared = constraints.map((c) => {
      const counts = countByDomain(c, pod, nodes);
      const min = counts.size < c.minDomains ? 0 : Math.min(...counts.values());
      return { c, counts, min, self: matches(c.selector, pod.labels) ? 1 : 0 };
    });
    const missing = [ERR_MISSING_LABEL];
    const skewed = [ERR_CONSTRAINTS_NOT_MATCH];
    return (node) => {
      for (const { c, counts, min, self } of prepared) {
        const domain = node.labels[c.topologyKey];
        if (domain === undefined) return missing;
        if ((counts.get(domain) ?? 0) + self - min > c.maxSkew) return skewed;
      }
      return FITS;
    };
  },
};

/** Reverses raw totals into 0..MAX_NODE_SCORE (kube's NormalizeScore); -1 marks "no key": 0. */
export function normalizeSpreadScores(scores: number[]): void {
  const present = scores.filter((s) => s >= 0);
  if (present.length === 0) {
    scores.fill(0);
    return;
  }
  const max = Math.max(...present);
  const min = Math.min(...present);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (s < 0) scores[i] = 0;
    else if (max === 0) scores[i] = MAX_NODE_SCORE;
    else scores[i] = Math.floor((MAX_NODE_SCORE * (max + min - s)) / max);
  }
}

export const podTopologySpreadScore: ScorePlugin = {
  name: "PodTopologySpread",
  prepareScore(pod, _cache, feasible) {
    const constraints = spreadConstraintsOf(pod.pod).filter((c) => !c.hard);
    if (constraints.length === 0) return null;
    const prepared = constraints.map((c) => {
      const counts = countByDomain(c, pod, feasible);
      return { c, counts, weight: Math.log(counts.size + 2) };
    });
    return {
      score: (node) => {
        let total = 0;
        for (const { c, counts, weight } of prepared) {
          const domain = node.labels[c.topologyKey];
          if (domain === undefined) return -1;
          total += (counts.get(domain) ?? 0) * weight;
        }
        return Math.round(total);
      },
      normalize: normalizeSpreadScores,
    };
  },
};
