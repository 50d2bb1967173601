/**
 * TaintToleration (kube-scheduler `plugins/tainttoleration`, core/v1 `Toleration.ToleratesTaint`):
 * - Filter: a node with a NoSchedule or NoExecute taint the pod does not tolerate is rejected
 *   with `node(s) had untolerated taint {key: value}` (the first such taint).
 * - Score: fewer untolerated PreferNoSchedule taints is better (normalized, reversed).
 * A toleration matches a taint when the effects match (an empty effect matches all), the keys
 * match (an empty key with operator Exists matches every key), and with Exists the value is
 * ignored while Equal (the default operator) needs equal values.
 */
import { type Taint, taintsOf, tolerates, tolerationsOf } from "../../api/taints.ts";
import { defaultNormalizeScore, FITS, type FilterPlugin, type ScorePlugin } from "../framework.ts";

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
