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
import { asArray, asObject, asString, type JsonObject, type JsonValue } from "../../api/json.ts";
import type { Labels } from "../../api/label-selector.ts";
import { defaultNormalizeScore, FITS, type FilterPlugin, type ScorePlugin } from "../framework.ts";
import type { NodeInfo } from "../node-info.ts";

export const ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values: string[];
}

export interface NodeSelectorTerm {
  matchExpressions: NodeSelectorRequirement[];
  matchFields: NodeSelectorRequirement[];
}

const INTEGER = /^[+-]?\d+$/;

function requirementsOf(value: JsonValue | undefined): NodeSelectorRequirement[] {
  return asArray(value).map((r) => {
    const o = asObject(r);
    return {
      key: asString(o.key),
      operator: asString(o.operator),
      values: asArray(o.values).map((v) => String(v)),
    };
  });
}

export function termOf(value: JsonValue): NodeSelectorTerm {
  const o = asObject(value);
  return {
    matchExpressions: requirementsOf(o.matchExpressions),
    matchFields: requirementsOf(o.matchFields),
  };
}

/** One `NodeSelectorRequirement` against a label set (or the `metadata.name` field set). */
export function requirementMatches(r: NodeSelectorRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key] ?? "";
  switch (r.operator) {
    case "In":
      return has && r.values.includes(value);
    case "NotIn":
      return !has || !r.values.includes(value);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      const bound = r.values[0] ?? "";
      if (!has || r.values.length !== 1 || !INTEGER.test(value) || !INTEGER.test(bound))
        return false;
      const v = BigInt(value);
      const b = BigInt(bound);
      return r.operator === "Gt" ? v > b : v < b;
    }
    default:
      return false; // validation rejects other operators; an unknown one matches nothing
  }
}

export function termMatches(term: NodeSelectorTerm, node: NodeInfo): boolean {
  if (term.matchExpressions.length === 0 && term.matchFields.length === 0) return false;
  const fields: Labels = { "metadata.name": node.name };
  return (
    term.matchExpressions.every((r) => requirementMatches(r, node.labels)) &&
    term.matchFields.every((r) => requirementMatches(r, fields))
  );
}

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
      if (terms !== null && !terms.some((t) => termMatches(t, node))) return rejected;
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
        preferred.reduce((sum, p) => sum + (termMatches(p.term, node) ? p.weight : 0), 0),
      normalize: (scores) => defaultNormalizeScore(scores, false),
    };
  },
};
