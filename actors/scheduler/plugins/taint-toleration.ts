/**
 * TaintToleration (kube-scheduler `plugins/tainttoleration`, core/v1 `Toleration.ToleratesTaint`):
 * - Filter: a node with a NoSchedule or NoExecute taint the pod does not tolerate is rejected
 *   with `node(s) had untolerated taint {key: value}` (the first such taint).
 * - Score: fewer untolerated PreferNoSchedule taints is better (normalized, reversed).
 * A toleration matches a taint when the effects match (an empty effect matches all), the keys
 * match (an empty key with operator Exists matches every key), and with Exists the value is
 * ignored while Equal (the default operator) needs equal values.
 */
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import { defaultNormalizeScore, FITS, type FilterPlugin, type ScorePlugin } from "../framework.ts";

export interface Taint {
  key: string;
  value: string;
  effect: string;
}

export interface Toleration {
  key: string;
  operator: string;
  value: string;
  effect: string;
}

export function taintsOf(node: JsonObject): Taint[] {
  return asArray(asObject(node.spec).taints).map((t) => {
    const o = asObject(t);
    return { key: asString(o.key), value: asString(o.value), effect: asString(o.effect) };
  });
}

export function tolerationsOf(pod: JsonObject): Toleration[] {
  return asArray(asObject(pod.spec).tolerations).map((t) => {
    const o = asObject(t);
    return {
      key: asString(o.key),
      operator: asString(o.operator) || "Equal",
      value: asString(o.value),
      effect: asString(o.effect),
    };
  });
}

/** core/v1 `Toleration.ToleratesTaint`. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== "" && toleration.effect !== taint.effect) return false;
  if (toleration.key !== taint.key && !(toleration.key === "" && toleration.operator === "Exists"))
    return false;
  if (toleration.operator === "Exists") return true;
  if (toleration.operator === "Equal") return toleration.value === taint.value;
  return false;
}

export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}

export function untoleratedTaintReason(taint: Taint): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value}}`;
}

const isHardEffect = (t: Taint) => t.effect === "NoSchedule" || t.effect === "NoExecute";

export const taintTolerationFilter: FilterPlugin = {
  name: "TaintToleration",
  prepareFilter(pod) {
    const tolerations = tolerationsOf(pod.pod);
    return (node) => {
      for (const taint of taintsOf(node.node)) {
        if (isHardEffect(taint) && !tolerates(tolerations, taint))
          return [untoleratedTaintReason(taint)];
      }
      return FITS;
    };
  },
};

export const taintTolerationScore: ScorePlugin = {
  name: "TaintToleration",
  weight: 3,
  prepareScore(pod) {
    // only tolerations that could apply to PreferNoSchedule taints count (kube's PreScore)
    const tolerations = tolerationsOf(pod.pod).filter(
      (t) => t.effect === "" || t.effect === "PreferNoSchedule",
    );
    return {
      score: (node) =>
        taintsOf(node.node).filter(
          (t) => t.effect === "PreferNoSchedule" && !tolerates(tolerations, t),
        ).length,
      normalize: (scores) => defaultNormalizeScore(scores, true),
    };
  },
};
