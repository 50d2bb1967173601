/**
 * The default scheduling profile: kube-scheduler's default plugins that bosun implements, in
 * kube's filter order (cheap, decisive checks first) with kube's default score weights.
 */
import type { Profile } from "./framework.ts";
import { balancedAllocationScore } from "./plugins/balanced-allocation.ts";
import { interPodAffinityFilter, interPodAffinityScore } from "./plugins/inter-pod-affinity.ts";
import { nodeAffinityFilter, nodeAffinityScore } from "./plugins/node-affinity.ts";
import { nodeNamePlugin } from "./plugins/node-name.ts";
import { nodePortsPlugin } from "./plugins/node-ports.ts";
import { leastAllocatedScore, nodeResourcesFitFilter } from "./plugins/node-resources-fit.ts";
import { nodeUnschedulablePlugin } from "./plugins/node-unschedulable.ts";
import { taintTolerationFilter, taintTolerationScore } from "./plugins/taint-toleration.ts";

export const DEFAULT_PROFILE: Profile = {
  filters: [
    nodeUnschedulablePlugin,
    nodeNamePlugin,
    taintTolerationFilter,
    nodeAffinityFilter,
    nodePortsPlugin,
    nodeResourcesFitFilter,
    interPodAffinityFilter,
  ],
  scores: [
    taintTolerationScore,
    nodeAffinityScore,
    leastAllocatedScore,
    balancedAllocationScore,
    interPodAffinityScore,
  ],
};
