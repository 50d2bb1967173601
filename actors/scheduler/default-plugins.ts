/**
 * The default plugins (kube-scheduler's `getDefaultPlugins`, enabled at every extension point
 * they implement): the ones bosun implements, in kube's order (cheap, decisive filters first)
 * with kube's default score weights. A profile's configuration enables, disables and re-weighs
 * from here (profile.ts).
 */
import type { PluginRef } from "./config.ts";

export const DEFAULT_PLUGINS: readonly PluginRef[] = [
  { name: "NodeUnschedulable", weight: null },
  { name: "NodeName", weight: null },
  { name: "TaintToleration", weight: 3 },
  { name: "NodeAffinity", weight: 2 },
  { name: "NodePorts", weight: null },
  { name: "NodeResourcesFit", weight: 1 },
  { name: "VolumeBinding", weight: null },
  { name: "PodTopologySpread", weight: 2 },
  { name: "InterPodAffinity", weight: 2 },
  { name: "DefaultPreemption", weight: null },
  { name: "NodeResourcesBalancedAllocation", weight: 1 },
  { name: "ImageLocality", weight: 1 },
  { name: "DefaultBinder", weight: null },
];
