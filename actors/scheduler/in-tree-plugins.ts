/**
 * The in-tree plugins by name (kube-scheduler's `plugins/registry.go`), with their args: each
 * registration says which extension points its plugin implements and how to check its args.
 * A plugin with separate filter and score halves is one instance holding both.
 */
import type { FieldError } from "../api/field-error.ts";
import type { JsonObject } from "../api/json.ts";
import { intField, unknownFieldErrors } from "./plugin-args.ts";
import { balancedAllocationScore } from "./plugins/balanced-allocation.ts";
import { defaultBinder } from "./plugins/default-binder.ts";
import { defaultPreemption } from "./plugins/default-preemption.ts";
import { imageLocalityScorePlugin } from "./plugins/image-locality.ts";
import {
  HARD_POD_AFFINITY_WEIGHT,
  interPodAffinityFilter,
  interPodAffinityScoreWith,
  MAX_HARD_POD_AFFINITY_WEIGHT,
} from "./plugins/inter-pod-affinity.ts";
import { nodeAffinityFilter, nodeAffinityScore } from "./plugins/node-affinity.ts";
import { nodeNamePlugin } from "./plugins/node-name.ts";
import { nodePortsPlugin } from "./plugins/node-ports.ts";
import {
  nodeResourcesFitFilter,
  nodeResourcesFitScoreWith,
  scoringStrategyOf,
} from "./plugins/node-resources-fit.ts";
import { nodeUnschedulablePlugin } from "./plugins/node-unschedulable.ts";
import { podTopologySpreadFilter, podTopologySpreadScore } from "./plugins/pod-topology-spread.ts";
import { taintTolerationFilter, taintTolerationScore } from "./plugins/taint-toleration.ts";
import { volumeBinding } from "./plugins/volume-binding.ts";
import type { PluginRegistration, Registry } from "./registry.ts";

/** Args parsed with errors collected; a registration validates by parsing and discarding. */
function noArgs(args: JsonObject, path: string): FieldError[] {
  return unknownFieldErrors(args, ["apiVersion", "kind"], path);
}

function hardPodAffinityWeightOf(args: JsonObject, path: string, errors: FieldError[]): number {
  errors.push(...unknownFieldErrors(args, ["apiVersion", "kind", "hardPodAffinityWeight"], path));
  return intField(
    args.hardPodAffinityWeight,
    `${path}.hardPodAffinityWeight`,
    { min: 0, max: MAX_HARD_POD_AFFINITY_WEIGHT, fallback: HARD_POD_AFFINITY_WEIGHT },
    errors,
  );
}

const IN_TREE: readonly PluginRegistration[] = [
  {
    name: "NodeUnschedulable",
    extensionPoints: ["filter"],
    factory: () => nodeUnschedulablePlugin,
    validateArgs: noArgs,
  },
  {
    name: "NodeName",
    extensionPoints: ["filter"],
    factory: () => nodeNamePlugin,
    validateArgs: noArgs,
  },
  {
    name: "TaintToleration",
    extensionPoints: ["filter", "score"],
    factory: () => ({ ...taintTolerationFilter, ...taintTolerationScore }),
    validateArgs: noArgs,
  },
  {
    name: "NodeAffinity",
    extensionPoints: ["filter", "score"],
    factory: () => ({ ...nodeAffinityFilter, ...nodeAffinityScore }),
    validateArgs: noArgs,
  },
  {
    name: "NodePorts",
    extensionPoints: ["filter"],
    factory: () => nodePortsPlugin,
    validateArgs: noArgs,
  },
  {
    name: "NodeResourcesFit",
    extensionPoints: ["filter", "score"],
    factory: (args) => ({
      ...nodeResourcesFitFilter,
      ...nodeResourcesFitScoreWith(scoringStrategyOf(args, "", [])),
    }),
    validateArgs: (args, path) => {
      const errors: FieldError[] = [];
      scoringStrategyOf(args, path, errors);
      return errors;
    },
  },
  {
    name: "NodeResourcesBalancedAllocation",
    extensionPoints: ["score"],
    factory: () => balancedAllocationScore,
    validateArgs: noArgs,
  },
  {
    name: "InterPodAffinity",
    extensionPoints: ["filter", "score"],
    factory: (args) => ({
      ...interPodAffinityFilter,
      ...interPodAffinityScoreWith(hardPodAffinityWeightOf(args, "", [])),
    }),
    validateArgs: (args, path) => {
      const errors: FieldError[] = [];
      hardPodAffinityWeightOf(args, path, errors);
      return errors;
    },
  },
  {
    name: "VolumeBinding",
    extensionPoints: ["preFilter", "filter", "reserve", "preBind"],
    factory: (_args, handle) => volumeBinding(handle),
    validateArgs: noArgs,
  },
  {
    name: "PodTopologySpread",
    extensionPoints: ["filter", "score"],
    factory: () => ({ ...podTopologySpreadFilter, ...podTopologySpreadScore }),
    validateArgs: noArgs,
  },
  {
    name: "ImageLocality",
    extensionPoints: ["score"],
    factory: () => imageLocalityScorePlugin,
    validateArgs: noArgs,
  },
  {
    name: "DefaultPreemption",
    extensionPoints: ["postFilter"],
    factory: () => defaultPreemption,
    validateArgs: noArgs,
  },
  {
    name: "DefaultBinder",
    extensionPoints: ["bind"],
    factory: (_args, handle) => defaultBinder(handle),
    validateArgs: noArgs,
  },
];

export const IN_TREE_REGISTRY: Registry = new Map(IN_TREE.map((r) => [r.name, r]));
