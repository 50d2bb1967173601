/**
 * NodeResourcesFit (kube-scheduler `plugins/noderesources/fit.go`):
 * - Filter: the pod's requests plus those of the pods already on the node must not exceed the
 *   node's `status.allocatable`, per resource; each shortfall is a reason (`Insufficient cpu`,
 *   `Insufficient memory`), and a full node is `Too many pods`. A resource the pod does not
 *   request is not checked (a pod asking nothing fits a full node, as in Kubernetes).
 * - Score (LeastAllocated, the default strategy): for CPU and memory, equally weighted,
 *   `(allocatable - requested) * 100 / allocatable` with the pod added, zero requests counted
 *   as the scoring defaults (100m, 200Mi).
 */
import { FITS, type FilterPlugin, MAX_NODE_SCORE, type ScorePlugin } from "../framework.ts";
import type { NodeInfo } from "../node-info.ts";
import { nonZeroRequests, type Resources } from "../pod-requests.ts";

export const ERR_INSUFFICIENT_CPU = "Insufficient cpu";
export const ERR_INSUFFICIENT_MEMORY = "Insufficient memory";
export const ERR_TOO_MANY_PODS = "Too many pods";

/** The reasons `requests` does not fit `node` (empty when it fits). */
export function insufficientResources(requests: Resources, node: NodeInfo): string[] {
  const reasons: string[] = [];
  if (node.podCount + 1 > node.allocatable.pods) reasons.push(ERR_TOO_MANY_PODS);
  if (
    requests.milliCpu > 0 &&
    requests.milliCpu > node.allocatable.milliCpu - node.requested.milliCpu
  )
    reasons.push(ERR_INSUFFICIENT_CPU);
  if (
    requests.memoryBytes > 0 &&
    requests.memoryBytes > node.allocatable.memoryBytes - node.requested.memoryBytes
  )
    reasons.push(ERR_INSUFFICIENT_MEMORY);
  return reasons;
}

export const nodeResourcesFitFilter: FilterPlugin = {
  name: "NodeResourcesFit",
  prepareFilter(pod) {
    return (node) => {
      const reasons = insufficientResources(pod.requests, node);
      return reasons.length === 0 ? FITS : reasons;
    };
  },
};

/** kube's `leastRequestedScore`: the share left free, 0..100; 0 when over capacity. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** The fractions of CPU and memory in use once `pod` (non-zero requests) is added. */
export function fractionsWithPod(node: NodeInfo, podNonZero: Resources): [number, number] {
  const cpu = node.allocatable.milliCpu;
  const mem = node.allocatable.memoryBytes;
  const cpuFraction = cpu === 0 ? 1 : (node.nonZeroRequested.milliCpu + podNonZero.milliCpu) / cpu;
  const memFraction =
    mem === 0 ? 1 : (node.nonZeroRequested.memoryBytes + podNonZero.memoryBytes) / mem;
  return [cpuFraction, memFraction];
}

export const leastAllocatedScore: ScorePlugin = {
  name: "NodeResourcesFit",
  weight: 1,
  prepareScore(pod) {
    const nz = nonZeroRequests(pod.requests);
    return {
      score: (node) =>
        Math.floor(
          (leastRequestedScore(
            node.nonZeroRequested.milliCpu + nz.milliCpu,
            node.allocatable.milliCpu,
          ) +
            leastRequestedScore(
              node.nonZeroRequested.memoryBytes + nz.memoryBytes,
              node.allocatable.memoryBytes,
            )) /
            2,
        ),
    };
  },
};
