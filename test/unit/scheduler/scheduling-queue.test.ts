/** kube-scheduler's PriorityQueue rules (internal/queue/scheduling_queue.go) and the per-pod statechart. */

import { describe, expect, it } from "vitest";
import { createActor, setup, toPromise } from "xstate";
import { defaultProfile } from "../../../actors/scheduler/default-profile.ts";
import { seededRandom } from "../../../actors/scheduler/framework.ts";
import {
  type PodSchedulingReport,
  podSchedulingMachine,
} from "../../../actors/scheduler/pod-scheduling.ts";
import {
  POD_MAX_BACKOFF_MS,
  podBackoffMs,
  SchedulingQueue,
  UNSCHEDULABLE_MAX_MS,
} from "../../../actors/scheduler/scheduling-queue.ts";
import { WaitingPods } from "../../../actors/scheduler/waiting-pods.ts";
import { cacheOf, node, pod } from "./cluster-fixture.ts";

describe("the scheduling queue", () => {
  it("pops by priority, then creation time", () => {
    const q = new SchedulingQueue();
    q.add(pod("old", { created: "2024-01-01T00:00:00Z" }), 0);
    q.add(pod("new", { created: "2024-01-02T00:00:00Z" }), 0);
    q.add(pod("urgent", { priority: 1000, created: "2024-01-03T00:00:00Z" }), 0);
    expect([q.pop(), q.pop(), q.pop()].map((p) => p?.info.key)).toEqual([
      "default/urgent",
      "default/old",
      "default/new",
    ]);
    expect(q.pop()).toBeUndefined();
  });

  it("backoff doubles from 1 s per attempt, capped at 10 s", () => {
    expect([1, 2, 3, 4, 5, 6].map(podBackoffMs)).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
    expect(POD_MAX_BACKOFF_MS).toBe(10_000);
  });

  it("an errored pod waits out its backoff, then is active again", () => {
    const q = new SchedulingQueue();
    q.add(pod("p"), 0);
    const p = q.pop();
    if (!p) throw new Error("no pod");
    q.requeueAfterError(p, 100);
    expect(q.where("default/p")).toBe("backoff");
    expect(q.nextBackoffEndMs()).toBe(1100);
    q.flush(1099);
    expect(q.hasActive()).toBe(false);
    q.flush(1100);
    expect(q.pop()?.attempts).toBe(2);
  });

  it("an unschedulable pod stays until a cluster event, then goes to backoff or active", () => {
    const q = new SchedulingQueue();
    q.add(pod("p"), 0);
    const p = q.pop();
    if (!p) throw new Error("no pod");
    q.requeueUnschedulable(p, 0);
    q.flush(5_000);
    expect(q.where("default/p")).toBe("unschedulable");
    q.moveAllToActiveOrBackoff(5_000); // backoff (1 s from the failure) is over
    expect(q.where("default/p")).toBe("active");
  });

  it("a cluster event during the attempt sends the failed pod to backoff, not unschedulable", () => {
    const q = new SchedulingQueue();
    q.add(pod("p"), 0);
    const p = q.pop();
    if (!p) throw new Error("no pod");
    q.moveAllToActiveOrBackoff(10);
    q.requeueUnschedulable(p, 20);
    expect(q.where("default/p")).toBe("backoff");
  });

  it("unschedulable pods get another try after UNSCHEDULABLE_MAX_MS", () => {
    const q = new SchedulingQueue();
    q.add(pod("p"), 0);
    q.requeueUnschedulable(q.pop() as never, 0);
    q.flush(UNSCHEDULABLE_MAX_MS);
    expect(q.where("default/p")).toBe("active");
  });

  it("a deleted pod is not popped; an in-flight pod deleted is not requeued", () => {
    const q = new SchedulingQueue();
    q.add(pod("a"), 0);
    q.add(pod("b"), 0);
    q.delete("default/a");
    const b = q.pop();
    expect(b?.info.key).toBe("default/b");
    q.delete("default/b");
    q.requeueAfterError(b as never, 0);
    expect(q.has("default/b")).toBe(false);
  });
});

describe("the per-pod statechart", () => {
  /** Runs the statechart as the scheduler does: a child, reporting to its parent. */
  const run = async (nodes: ReturnType<typeof node>[], bind: () => Promise<void>) => {
    const q = new SchedulingQueue();
    q.add(pod("p", { cpu: "1" }), 0);
    const cache = cacheOf(nodes);
    const reports: PodSchedulingReport[] = [];
    const parent = createActor(
      setup({
        types: { events: {} as PodSchedulingReport },
        actors: { podScheduling: podSchedulingMachine },
      }).createMachine({
        invoke: {
          id: "pod",
          src: "podScheduling",
          input: {
            pod: q.pop() as never,
            cache,
            waitingPods: new WaitingPods(),
            profile: defaultProfile({ cache, waitingPods: new WaitingPods(), bindPod: bind }),
            random: seededRandom(1),
          },
        },
        on: { "pod.*": { actions: ({ event }) => reports.push(event) } },
      }),
    );
    parent.start();
    const child = parent.getSnapshot().children.pod;
    if (!child) throw new Error("no pod statechart");
    // filtering and scoring run synchronously on start: its first settled state is binding or final
    const states: unknown[] = [child.getSnapshot().value];
    child.subscribe((s) => states.push(s.value));
    const output = await toPromise(child);
    return { output, states, cache, reports };
  };

  it("queued → filtering → scoring → reserving → permitting → preBinding → binding → bound, with the pod assumed on the node", async () => {
    const { output, states, cache } = await run([node("a")], async () => {});
    expect(output).toEqual({ outcome: "bound", nodeName: "a" });
    expect(states).toEqual(["preBinding", "binding", "bound"]);
    expect(cache.node("a")?.hasPod("default/p")).toBe(true);
    expect(cache.isAssumed("default/p")).toBe(true);
  });

  it("reports to its parent: pod.assumed when the binding starts, pod.finished with the outcome", async () => {
    const { reports } = await run([node("a")], async () => {});
    expect(reports).toEqual([
      { type: "pod.assumed", id: "pod", nodeName: "a" },
      { type: "pod.finished", id: "pod", outcome: { outcome: "bound", nodeName: "a" } },
    ]);
  });

  it("no feasible node: unschedulable with kube's message", async () => {
    const { output, reports } = await run([node("a", { cpu: "500m" })], async () => {});
    expect(reports.map((r) => r.type)).toEqual(["pod.finished"]);
    expect(output).toMatchObject({
      outcome: "unschedulable",
      message: "0/1 nodes are available: 1 Insufficient cpu.",
      nomination: null,
    });
  });

  it("a failed binding forgets the assumed pod", async () => {
    const { output, cache } = await run([node("a")], () => Promise.reject(new Error("boom")));
    expect(output.outcome).toBe("bindingFailed");
    expect(cache.node("a")?.hasPod("default/p")).toBe(false);
  });
});
