/**
 * Node selectors (core/v1 `NodeSelector`, `component-helpers/scheduling/corev1`): terms ORed,
 * each term's `matchExpressions` (on labels) and `matchFields` (`metadata.name`) ANDed;
 * operators In, NotIn, Exists, DoesNotExist, and Gt/Lt comparing the label as an integer.
 * Shared by the scheduler's NodeAffinity and VolumeBinding and by PersistentVolume binding.
 */
import { asArray, asObject, asString, type JsonValue } from "./json.ts";
import type { Labels } from "./label-selector.ts";

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

/** One term against a node's name and labels (a term with no requirements matches nothing). */
export function termMatches(term: NodeSelectorTerm, nodeName: string, labels: Labels): boolean {
  if (term.matchExpressions.length === 0 && term.matchFields.length === 0) return false;
  const fields: Labels = { "metadata.name": nodeName };
  return (
    term.matchExpressions.every((r) => requirementMatches(r, labels)) &&
    term.matchFields.every((r) => requirementMatches(r, fields))
  );
}

/**
 * A `NodeSelector` (`{nodeSelectorTerms: [...]}`: a node affinity's required part, a
 * PersistentVolume's `nodeAffinity.required`): its terms ORed; absent means every node.
 */
export function nodeSelectorMatches(
  selector: JsonValue | undefined,
  nodeName: string,
  labels: Labels,
): boolean {
  if (selector === undefined || selector === null) return true;
  return asArray(asObject(selector).nodeSelectorTerms).some((t) =>
    termMatches(termOf(t), nodeName, labels),
  );
}
