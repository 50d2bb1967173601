/**
 * DefaultPreemption (kube-scheduler `framework/preemption`): the victims on a node are the
 * fewest, least important lower-priority pods whose removal lets the pod fit; the node chosen
 * has the fewest PodDisruptionBudget violations, then the lowest highest victim priority;
 * `preemptionPolicy: Never` and pods without lower-priority neighbours preempt nothing; a pod
 * whose earlier victims are still terminating waits instead of preempting again.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { DEFAULT_PROFILE } from "../../../actors/scheduler/default-profile.ts";
import {
  CycleState,
  findFeasibleNodes,
  runPostFilters,
} from "../../../actors/scheduler/framework.ts";
import type { SchedulerCache } from "../../../actors/scheduler/scheduler-cache.ts";
import { cacheOf, info, node, pod } from "./cluster-fixture.ts";

function preempt(preemptor: JsonObject, cache: SchedulerCache) {
  const p = info(preemptor);
  const state = new CycleState();
  const { feasible, diagnosis } = findFeasibleNodes(DEFAULT_PROFILE, p, cache, state);
  expect(feasible).toEqual([]);
  const result = runPostFilters(DEFAULT_PROFILE, p, cache, state, diagnosis);
  return result && { node: result.nominatedNodeName, victims: result.victims.map((v) => v.key) };
}

const running = (name: string, nodeName: string, priority: number, cpu: string, labels = {}) => {
  const p = pod(name, { nodeName, priority, cpu, labels });
  (p.status as JsonObject).phase = "Running";
  return p;
};

function cluster(): SchedulerCache {
  return cacheOf(
    [node("a", { cpu: "4" }), node("b", { cpu: "4" })],
    [
      running("v1", "a", 10, "1"),
      running("v2", "a", 20, "1"),
      running("keep", "a", 100, "2"),
      running("w1", "b", 5, "4", { app: "w" }),
    ],
  );
}

const pdb = (disruptionsAllowed: number): JsonObject => ({
  apiVersion: "policy/v1",
  kind: "PodDisruptionBudget",
  metadata: { name: "w", namespace: "default" },
  spec: { minAvailable: 1, selector: { matchLabels: { app: "w" } } },
  status: { disruptionsAllowed },
});

describe("DefaultPreemption", () => {
  it("on each node the fewest, least important victims; the node whose victims matter least", () => {
    // on a, v2 (priority 20) is spared and only v1 goes; on b, w1 (priority 5): b wins
    expect(preempt(pod("hi", { priority: 50, cpu: "1" }), cluster())).toEqual({
      node: "b",
      victims: ["default/w1"],
    });
    // needing 2 cpu, a loses v1 and v2 (highest victim 20) and b w1 (5): b again
    expect(preempt(pod("hi", { priority: 50, cpu: "2" }), cluster())).toEqual({
      node: "b",
      victims: ["default/w1"],
    });
  });

  it("a node whose eviction would break a PodDisruptionBudget loses to one that would not", () => {
    const cache = cluster();
    cache.setPdb(pdb(0));
    expect(preempt(pod("hi", { priority: 50, cpu: "1" }), cache)).toEqual({
      node: "a",
      victims: ["default/v1"],
    });
    // with room in the budget, w1 may go again
    cache.setPdb(pdb(1));
    expect(preempt(pod("hi", { priority: 50, cpu: "1" }), cache)?.node).toBe("b");
  });

  it("when every candidate breaks a budget, the fewest violations still preempt", () => {
    const cache = cacheOf([node("b", { cpu: "4" })], [running("w1", "b", 5, "4", { app: "w" })]);
    cache.setPdb(pdb(0));
    expect(preempt(pod("hi", { priority: 50, cpu: "1" }), cache)).toEqual({
      node: "b",
      victims: ["default/w1"],
    });
  });

  it("no lower-priority pods, or preemptionPolicy Never: nothing is preempted", () => {
    expect(preempt(pod("lo", { priority: 5, cpu: "1" }), cluster())).toBeNull();
    const never = pod("hi", { priority: 50, cpu: "1" });
    (never.spec as JsonObject).preemptionPolicy = "Never";
    expect(preempt(never, cluster())).toBeNull();
  });

  it("a nominated pod whose victims are still terminating does not preempt again", () => {
    const cache = cacheOf(
      [node("b", { cpu: "4" })],
      [
        {
          ...running("w1", "b", 5, "4"),
          metadata: {
            name: "w1",
            namespace: "default",
            labels: {},
            deletionTimestamp: "2024-01-01T00:00:00Z",
          },
        },
      ],
    );
    const waiting = pod("hi", { priority: 50, cpu: "1" });
    waiting.status = { phase: "Pending", nominatedNodeName: "b" };
    expect(preempt(waiting, cache)).toBeNull();
  });

  it("a node rejected for a reason preemption cannot fix is no candidate", () => {
    const cache = cacheOf([node("a", { cpu: "4" })], [running("v1", "a", 1, "4")]);
    const elsewhere = pod("hi", { priority: 50, cpu: "1", nodeSelector: { zone: "x" } });
    expect(preempt(elsewhere, cache)).toBeNull();
  });
});

describe("nominated pods", () => {
  it("the room a nominated pod waits for is not given to a pod of lower priority", () => {
    const cache = cacheOf([node("a", { cpu: "2" })]);
    const preemptor = info(pod("hi", { priority: 50, cpu: "2" }));
    cache.setNominatedPod(preemptor, "a");
    const low = info(pod("lo", { priority: 5, cpu: "1" }));
    expect(findFeasibleNodes(DEFAULT_PROFILE, low, cache).feasible).toEqual([]);
    // nor one of equal priority; a more important one may, and so may the nominated pod itself
    const peer = info(pod("peer", { priority: 50, cpu: "1" }));
    expect(findFeasibleNodes(DEFAULT_PROFILE, peer, cache).feasible).toEqual([]);
    const higher = info(pod("higher", { priority: 60, cpu: "1" }));
    expect(findFeasibleNodes(DEFAULT_PROFILE, higher, cache).feasible.map((n) => n.name)).toEqual([
      "a",
    ]);
    expect(
      findFeasibleNodes(DEFAULT_PROFILE, preemptor, cache).feasible.map((n) => n.name),
    ).toEqual(["a"]);
    cache.clearNominatedPod(preemptor.key);
    expect(findFeasibleNodes(DEFAULT_PROFILE, low, cache).feasible.map((n) => n.name)).toEqual([
      "a",
    ]);
  });
});
