/**
 * NodeAffinity (kube-scheduler `plugins/nodeaffinity`, `component-helpers/scheduling/corev1`):
 * - Filter: every `spec.nodeSelector` label must match, and when
 *   `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` is set, at least one
 *   of its `nodeSelectorTerms` must match (terms are ORed, a term's expressions ANDed; a term
 *   with no expressions matches nothing). Operators In, NotIn, Exists, DoesNotExist, and Gt/Lt
 *   comparing the label as an integer; `matchFields` supports `metadata.name`.
 * - Score: the sum of the weights of the matching
 *   `preferredDuringSchedulingIgnoredDuringExecution` terms, normalized to 0..100.
 */
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import { requirementMatches, termMatches, termOf } from "../../api/node-selector.ts";
import { defaultNormalizeScore, FITS, type FilterPlugin, type ScorePlugin } from "../framework.ts";

export { requirementMatches };

export const ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

function nodeAffinityOf(pod: JsonObject): JsonObject {
  return asObject(asObject(asObject(pod.spec).affinity).nodeAffinity);
}

export const nodeAffinityFilter: FilterPlugin = {
  name: "NodeAffinity",
  prepareFilter(pod) {
    const selector = Object.entries(asObject(asObject(pod.pod.spec).nodeSelector)).map(
      ([k, v]) => [k, asString(v)] as const,
    );
    const required = asObject(
      nodeAffinityOf(pod.pod).requiredDuringSchedulingIgnoredDuringExecution,
    );
    const terms =
      required.nodeSelectorTerms === undefined
        ? null
        : asArray(required.nodeSelectorTerms).map(termOf);
    if (selector.length === 0 && terms === null) return null;
    const rejected = [ERR_NODE_AFFINITY];
    return (node) => {
      for (const [k, v] of selector) if (node.labels[k] !== v) return rejected;
      if (terms !== null && !terms.some((t) => termMatches(t, node.name, node.labels)))
        return rejected;
      return FITS;
    };
  },
};

export const nodeAffinityScore: ScorePlugin = {
  name: "NodeAffinity",
  prepareScore(pod) {
    const preferred = asArray(
      nodeAffinityOf(pod.pod).preferredDuringSchedulingIgnoredDuringExecution,
    )
      .map((p) => {
        const o = asObject(p);
        return { weight: Number(o.weight ?? 0), term: termOf(o.preference ?? {}) };
      })
      .filter((p) => p.weight !== 0);
    if (preferred.length === 0) return null;
    return {
      score: (node) =>
        preferred.reduce(
          (sum, p) => sum + (termMatches(p.term, node.name, node.labels) ? p.weight : 0),
          0,
        ),
      normalize: (scores) => defaultNormalizeScore(scores, false),
    };
  },
};
