/**
 * KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): profiles by schedulerName,
 * plugins enabled/disabled per extension point and multiPoint (kube's mergePluginSet: defaults
 * kept in order, re-enabled defaults re-weighed in place), weights in the profile, pluginConfig
 * args; every bad field is named in the error.
 */
import { describe, expect, it } from "vitest";
import {
  parseSchedulerConfiguration,
  SchedulerConfigError,
} from "../../../actors/scheduler/config.ts";
import { detachedHandle } from "../../../actors/scheduler/default-profile.ts";
import { schedulePod, seededRandom } from "../../../actors/scheduler/framework.ts";
import { IN_TREE_REGISTRY } from "../../../actors/scheduler/in-tree-plugins.ts";
import { buildProfile, enabledPlugins } from "../../../actors/scheduler/profile.ts";
import { cacheOf, info, node, pod } from "./cluster-fixture.ts";

const HEAD = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";
const parse = (yaml: string) =>
  parseSchedulerConfiguration(HEAD + yaml, IN_TREE_REGISTRY, "t.yaml");

function errorOf(yaml: string, head = HEAD): string {
  try {
    parseSchedulerConfiguration(head + yaml, IN_TREE_REGISTRY, "t.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(SchedulerConfigError);
    return (error as Error).message;
  }
  throw new Error("the configuration was accepted");
}

const names = (refs: { name: string; weight: number | null }[]) =>
  refs.map((r) => (r.weight === null ? r.name : `${r.name}:${r.weight}`));

describe("KubeSchedulerConfiguration: profiles and plugin sets", () => {
  it("no profiles: one default-scheduler profile with kube's default plugins and weights", () => {
    const config = parse("");
    expect(config.profiles.map((p) => p.schedulerName)).toEqual(["default-scheduler"]);
    expect(config.leaderElection).toEqual({
      leaderElect: true,
      resourceName: "kube-scheduler",
      resourceNamespace: "kube-system",
    });
    const enabled = enabledPlugins(config.profiles[0] as never, IN_TREE_REGISTRY);
    expect(names(enabled.score)).toEqual([
      "TaintToleration:3",
      "NodeAffinity:2",
      "NodeResourcesFit:1",
      "PodTopologySpread:2",
      "InterPodAffinity:2",
      "NodeResourcesBalancedAllocation:1",
      "ImageLocality:1",
    ]);
    expect(names(enabled.postFilter)).toEqual(["DefaultPreemption"]);
    expect(names(enabled.bind)).toEqual(["DefaultBinder"]);
  });

  it("a second profile with its own name; disabling, re-weighing in place and '*'", () => {
    const config = parse(`
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
    filter:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 2}, {name: memory, weight: 1}]
`);
    expect(config.profiles.map((p) => p.schedulerName)).toEqual([
      "default-scheduler",
      "bin-packer",
    ]);
    const enabled = enabledPlugins(config.profiles[1] as never, IN_TREE_REGISTRY);
    expect(names(enabled.filter)).toEqual(["NodeResourcesFit"]);
    expect(names(enabled.score)).toEqual([
      "TaintToleration:3",
      "NodeAffinity:2",
      "NodeResourcesFit:5",
      "PodTopologySpread:2",
      "InterPodAffinity:2",
      "ImageLocality:1",
    ]);
  });

  it("multiPoint disables a plugin at every point it implements", () => {
    const config = parse(`
profiles:
- plugins:
    multiPoint:
      disabled: [{name: TaintToleration}]
`);
    const enabled = enabledPlugins(config.profiles[0] as never, IN_TREE_REGISTRY);
    expect(names(enabled.filter)).not.toContain("TaintToleration");
    expect(names(enabled.score).some((n) => n.startsWith("TaintToleration"))).toBe(false);
  });

  it("MostAllocated packs where LeastAllocated spreads", () => {
    const nodes = [node("a", { cpu: "4" }), node("b", { cpu: "4" })];
    const busy = pod("busy", { cpu: "3", nodeName: "a" });
    const profileFor = (type: string) => {
      const config = parse(`
profiles:
- plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: ${type}}}
`);
      const cache = cacheOf(nodes, [busy]);
      return {
        profile: buildProfile(config.profiles[0] as never, IN_TREE_REGISTRY, detachedHandle(cache)),
        cache,
      };
    };
    const least = profileFor("LeastAllocated");
    const most = profileFor("MostAllocated");
    const p = info(pod("p", { cpu: "500m" }));
    expect(schedulePod(least.profile, p, least.cache, seededRandom(1))).toMatchObject({
      nodeName: "b",
    });
    expect(schedulePod(most.profile, p, most.cache, seededRandom(1))).toMatchObject({
      nodeName: "a",
    });
  });

  it("RequestedToCapacityRatio follows its shape", () => {
    const config = parse(`
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        requestedToCapacityRatio:
          shape: [{utilization: 0, score: 10}, {utilization: 100, score: 0}]
`);
    const cache = cacheOf([node("a")]);
    const profile = buildProfile(
      config.profiles[0] as never,
      IN_TREE_REGISTRY,
      detachedHandle(cache),
    );
    const fit = profile.scores.find((s) => s.plugin.name === "NodeResourcesFit");
    const scorer = fit?.plugin.prepareScore(
      info(pod("p", { cpu: "2", memory: "4Gi" })),
      cache,
      [],
      undefined as never,
    );
    // half the cpu and memory in use: half way down the shape
    expect(scorer?.score(cache.node("a") as never)).toBe(50);
  });
});

describe("KubeSchedulerConfiguration: errors name the field", () => {
  it("apiVersion and kind", () => {
    expect(errorOf("", "apiVersion: v1\nkind: Foo\n")).toBe(
      'invalid scheduler configuration t.yaml: [apiVersion: Unsupported value: "v1": supported values: "kubescheduler.config.k8s.io/v1", kind: Unsupported value: "Foo": supported values: "KubeSchedulerConfiguration"]',
    );
  });

  it("an unknown plugin, and a plugin at a point it does not implement", () => {
    expect(errorOf("profiles:\n- plugins:\n    score:\n      enabled: [{name: Foo}]\n")).toContain(
      'profiles[0].plugins.score.enabled[0].name: Invalid value: "Foo": no plugin registered by that name',
    );
    expect(
      errorOf("profiles:\n- plugins:\n    score:\n      enabled: [{name: NodeName}]\n"),
    ).toContain(
      'profiles[0].plugins.score.enabled[0].name: Invalid value: "NodeName": the plugin does not implement score (it implements filter)',
    );
  });

  it("a weight out of range, or on a point without weights", () => {
    expect(
      errorOf(
        "profiles:\n- plugins:\n    score:\n      enabled: [{name: NodeAffinity, weight: 101}]\n",
      ),
    ).toContain(
      "profiles[0].plugins.score.enabled[0].weight: Invalid value: 101: must be an integer in [0, 100]",
    );
    expect(
      errorOf(
        "profiles:\n- plugins:\n    filter:\n      enabled: [{name: NodeAffinity, weight: 1}]\n",
      ),
    ).toContain(
      "profiles[0].plugins.filter.enabled[0].weight: Invalid value: 1: only score plugins have a weight",
    );
  });

  it("two profiles: names required and unique", () => {
    const message = errorOf("profiles:\n- schedulerName: a\n- schedulerName: a\n- plugins: {}\n");
    expect(message).toContain('profiles[1].schedulerName: Duplicate value: "a"');
    expect(message).toContain("profiles[2].schedulerName: Required value");
  });

  it("plugin args: the scoring strategy's type, weights and shape", () => {
    const message = errorOf(`
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: Fastest}}
  - name: InterPodAffinity
    args: {hardPodAffinityWeight: 500}
`);
    expect(message).toContain(
      'profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported value: "Fastest": supported values: "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"',
    );
    expect(message).toContain(
      "profiles[0].pluginConfig[1].args.hardPodAffinityWeight: Invalid value: 500: must be an integer in [0, 100]",
    );
    const shape = errorOf(`
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources: [{name: gpu, weight: 1}]
        requestedToCapacityRatio: {shape: [{utilization: 50, score: 1}, {utilization: 40, score: 11}]}
`);
    const at = "profiles[0].pluginConfig[0].args.scoringStrategy";
    expect(shape).toContain(`${at}.resources[0].name: Unsupported value: "gpu"`);
    expect(shape).toContain(
      `${at}.requestedToCapacityRatio.shape[1].utilization: Invalid value: 40: values must be sorted in increasing order`,
    );
    expect(shape).toContain(
      `${at}.requestedToCapacityRatio.shape[1].score: Invalid value: 11: must be an integer in [0, 10]`,
    );
  });

  it("unknown fields anywhere, and YAML that does not parse", () => {
    expect(errorOf("profiles:\n- schedulerName: x\n  plugin: {}\n")).toContain(
      "profiles[0].plugin: Invalid value: {}: unknown field",
    );
    expect(errorOf("percentageOfNodesToScore: 50\n")).toContain(
      "percentageOfNodesToScore: Invalid value: 50: unknown field",
    );
    expect(errorOf("profiles: [\n")).toMatch(
      /^invalid scheduler configuration t.yaml: Invalid value: "<yaml>"/,
    );
  });
});
