/**
 * Every extension point of the framework, exercised through one test plugin that implements
 * them all and records each call (kube-scheduler's `framework/runtime` tests do the same with
 * their TestPlugin): the order of a successful attempt, PreFilter rejecting a pod, PostFilter
 * nominating a node, Reserve failing (Unreserve runs), Permit denying, waiting then allowed,
 * waiting past its timeout, PreBind failing; Bind plugins before DefaultBinder.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { parseSchedulerConfiguration } from "../../../actors/scheduler/config.ts";
import {
  type CycleState,
  FITS,
  type FrameworkHandle,
  type PermitDecision,
  type Plugin,
  PRE_FILTER_SUCCESS,
  type PreFilterStatus,
} from "../../../actors/scheduler/framework.ts";
import { IN_TREE_REGISTRY } from "../../../actors/scheduler/in-tree-plugins.ts";
import type { PodInfo } from "../../../actors/scheduler/node-info.ts";
import type { PodSchedulingOutcome } from "../../../actors/scheduler/pod-scheduling.ts";
import { buildProfile } from "../../../actors/scheduler/profile.ts";
import { EXTENSION_POINTS, mergeRegistries } from "../../../actors/scheduler/registry.ts";
import { SchedulingQueue } from "../../../actors/scheduler/scheduling-queue.ts";
import { WaitingPods } from "../../../actors/scheduler/waiting-pods.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { cacheOf, node, pod, startSchedulerActor } from "./cluster-fixture.ts";

async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** What the test plugin does at each point (default: pass). */
interface Script {
  preFilter?: PreFilterStatus;
  reserve?: string | null;
  permit?: PermitDecision;
  preBindFails?: boolean;
  nominate?: string;
}

function recordingPlugin(script: Script, calls: string[]): Plugin {
  const at = (point: string) => (pod: PodInfo, nodeName?: string) =>
    calls.push(nodeName === undefined ? `${point} ${pod.key}` : `${point} ${pod.key} ${nodeName}`);
  return {
    name: "Recorder",
    preFilter: (pod: PodInfo, _cache: unknown, state: CycleState) => {
      at("PreFilter")(pod);
      state.write("Recorder", "seen at PreFilter");
      return script.preFilter ?? PRE_FILTER_SUCCESS;
    },
    prepareFilter: () => (n: { name: string }) => {
      calls.push(`Filter ${n.name}`);
      return n.name === "full" ? ["Recorder says no"] : FITS;
    },
    postFilter: (pod: PodInfo) => {
      at("PostFilter")(pod);
      return script.nominate ? { nominatedNodeName: script.nominate, victims: [] } : null;
    },
    preScore: (pod: PodInfo, feasible: readonly { name: string }[]) =>
      calls.push(`PreScore ${pod.key} ${feasible.map((n) => n.name).join(",")}`),
    prepareScore: () => ({
      score: (n: { name: string }) => {
        calls.push(`Score ${n.name}`);
        return n.name === "b" ? 10 : 5;
      },
      normalize: (scores: number[]) => {
        calls.push(`NormalizeScore ${scores.join(",")}`);
        for (let i = 0; i < scores.length; i++) scores[i] = (scores[i] as number) * 10;
      },
    }),
    reserve: (pod: PodInfo, nodeName: string, state: CycleState) => {
      at("Reserve")(pod, nodeName);
      expect(state.read("Recorder")).toBe("seen at PreFilter"); // one CycleState per attempt
      return script.reserve ?? null;
    },
    unreserve: (pod: PodInfo, nodeName: string) => at("Unreserve")(pod, nodeName),
    permit: (pod: PodInfo, nodeName: string) => {
      at("Permit")(pod, nodeName);
      return script.permit ?? { decision: "allow" };
    },
    preBind: async (pod: PodInfo, nodeName: string) => {
      at("PreBind")(pod, nodeName);
      if (script.preBindFails) throw new Error("volume not ready");
    },
    bind: async (pod: PodInfo, nodeName: string) => {
      at("Bind")(pod, nodeName);
      return "skip" as const; // DefaultBinder binds
    },
    postBind: (pod: PodInfo, nodeName: string) => at("PostBind")(pod, nodeName),
  } as Plugin;
}

const CONFIG = `
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      enabled: [{name: Recorder, weight: 1}]
    bind:
      # kube keeps re-enabled defaults in their place: to run before DefaultBinder, disable first
      disabled: [{name: "*"}]
      enabled: [{name: Recorder}, {name: DefaultBinder}]
    score:
      disabled: [{name: "*"}]
      enabled: [{name: Recorder}]
`;

function start(script: Script, nodes: JsonObject[] = [node("a"), node("b"), node("full")]) {
  const calls: string[] = [];
  const registry = mergeRegistries(IN_TREE_REGISTRY, [
    {
      name: "Recorder",
      extensionPoints: EXTENSION_POINTS, // every one
      factory: () => recordingPlugin(script, calls),
    },
  ]);
  const config = parseSchedulerConfiguration(CONFIG, registry);
  const clock = new ManualClock();
  const cache = cacheOf(nodes);
  const waitingPods = new WaitingPods();
  const handle: FrameworkHandle = {
    cache,
    waitingPods,
    bindPod: async (info, nodeName) => {
      calls.push(`DefaultBinder ${info.key} ${nodeName}`);
    },
  };
  const profile = buildProfile(config.profiles[0] as never, registry, handle);
  const queue = new SchedulingQueue();
  queue.add(pod("p"), 0);
  const reports: PodSchedulingOutcome[] = [];
  const actor = startSchedulerActor({
    queue,
    cache,
    waitingPods,
    profile,
    clock,
    report: (_p, outcome) => reports.push(outcome),
  });
  return { actor, calls, reports, cache, clock, waitingPods, queue };
}

describe("the framework's extension points, through a plugin implementing them all", () => {
  it("a successful attempt runs them in kube's order; DefaultBinder binds after a skipping Bind", async () => {
    const s = start({});
    await settle();
    expect(s.calls).toEqual([
      "PreFilter default/p",
      "Filter a",
      "Filter b",
      "Filter full",
      "PreScore default/p a,b",
      "Score a",
      "Score b",
      "NormalizeScore 5,10",
      "Reserve default/p b",
      "Permit default/p b",
      "PreBind default/p b",
      "Bind default/p b",
      "DefaultBinder default/p b",
      "PostBind default/p b",
    ]);
    expect(s.reports).toEqual([{ outcome: "bound", nodeName: "b" }]);
    s.actor.stop();
  });

  it("PreFilter rejecting the pod: no Filter runs, every node is reported", async () => {
    const s = start({ preFilter: { code: "Unschedulable", reason: "not today" } });
    await settle();
    expect(s.calls).toEqual(["PreFilter default/p", "PostFilter default/p"]);
    expect(s.reports[0]).toMatchObject({
      outcome: "unschedulable",
      message: "0/3 nodes are available: 3 not today.",
    });
    s.actor.stop();
  });

  it("no feasible node: PostFilter runs and its nomination is the outcome's", async () => {
    const s = start({ nominate: "full" }, [node("full")]);
    await settle();
    expect(s.calls).toContain("PostFilter default/p");
    expect(s.reports[0]).toMatchObject({
      outcome: "unschedulable",
      nomination: { nominatedNodeName: "full", victims: [] },
    });
    s.actor.stop();
  });

  it("Reserve failing: Unreserve runs, the pod is forgotten and backs off", async () => {
    const s = start({ reserve: "no room in my books" });
    await settle();
    expect(s.calls.slice(-2)).toEqual(["Reserve default/p b", "Unreserve default/p b"]);
    expect(s.reports[0]).toEqual({
      outcome: "rejected",
      nodeName: "b",
      message: "Recorder: no room in my books",
    });
    expect(s.cache.isAssumed("default/p")).toBe(false);
    expect(s.queue.where("default/p")).toBe("backoff");
    s.actor.stop();
  });

  it("Permit denying: Unreserve, no binding", async () => {
    const s = start({ permit: { decision: "deny", reason: "not my group" } });
    await settle();
    expect(s.calls.slice(-2)).toEqual(["Permit default/p b", "Unreserve default/p b"]);
    expect(s.reports[0]).toMatchObject({ outcome: "rejected", message: "Recorder: not my group" });
    s.actor.stop();
  });

  it("Permit waiting, then allowed through the waiting pods: the binding cycle goes on", async () => {
    const s = start({ permit: { decision: "wait", timeoutMs: 10_000 } });
    await settle();
    expect(s.calls.at(-1)).toBe("Permit default/p b");
    const waiting = s.waitingPods.get("default/p");
    expect(waiting?.pendingPlugins()).toEqual(["Recorder"]);
    // the pod stays assumed while it waits: the next pods' filters count it
    expect(s.cache.isAssumed("default/p")).toBe(true);
    waiting?.allow("Recorder");
    await settle();
    expect(s.reports).toEqual([{ outcome: "bound", nodeName: "b" }]);
    expect(s.waitingPods.size).toBe(0);
    s.actor.stop();
  });

  it("Permit waiting past its timeout: rejected, Unreserve, forgotten", async () => {
    const s = start({ permit: { decision: "wait", timeoutMs: 5_000 } });
    await settle();
    s.clock.advance(4_999);
    await settle();
    expect(s.reports).toEqual([]);
    s.clock.advance(1);
    await settle();
    expect(s.calls.at(-1)).toBe("Unreserve default/p b");
    expect(s.reports[0]).toMatchObject({
      outcome: "rejected",
      message: "rejected due to timeout after waiting 5000 ms at plugin(s) Recorder",
    });
    expect(s.cache.isAssumed("default/p")).toBe(false);
    expect(s.waitingPods.size).toBe(0);
    s.actor.stop();
  });

  it("Permit waiting, then rejected by another plugin: rejected with its message", async () => {
    const s = start({ permit: { decision: "wait", timeoutMs: 10_000 } });
    await settle();
    s.waitingPods.get("default/p")?.reject("Gang", "the group gave up");
    await settle();
    expect(s.reports[0]).toMatchObject({
      outcome: "rejected",
      message: "rejected by Gang: the group gave up",
    });
    s.actor.stop();
  });

  it("PreBind failing: bindingFailed, Unreserve, no Bind", async () => {
    const s = start({ preBindFails: true });
    await settle();
    expect(s.calls.slice(-2)).toEqual(["PreBind default/p b", "Unreserve default/p b"]);
    expect(s.reports[0]).toMatchObject({ outcome: "bindingFailed", nodeName: "b" });
    expect(s.cache.isAssumed("default/p")).toBe(false);
    s.actor.stop();
  });
});
