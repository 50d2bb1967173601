/**
 * NodeResourcesBalancedAllocation (kube-scheduler `plugins/noderesources/balanced_allocation.go`):
 * prefers the node whose CPU and memory use would be closest to each other once the pod is
 * added: `(1 - std) * 100`, where for two resources the standard deviation is
 * `|cpuFraction - memoryFraction| / 2` (fractions capped at 1).
 */
import { MAX_NODE_SCORE, type ScorePlugin } from "../framework.ts";
import { nonZeroRequests } from "../pod-requests.ts";
import { fractionsWithPod } from "./node-resources-fit.ts";

export function balancedScore(cpuFraction: number, memoryFraction: number): number {
  const std = Math.abs(Math.min(cpuFraction, 1) - Math.min(memoryFraction, 1)) / 2;
  return Math.floor((1 - std) * MAX_NODE_SCORE);
}

export const balancedAllocationScore: ScorePlugin = {
  name: "NodeResourcesBalancedAllocation",
  prepareScore(pod) {
    const nz = nonZeroRequests(pod.requests);
    return { score: (node) => balancedScore(...fractionsWithPod(node, nz)) };
  },
};
