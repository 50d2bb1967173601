/**
 * The scheduler statechart with fake ports (kube-scheduler's scheduleOne: a serial scheduling
 * cycle, an asynchronous binding cycle): pods are assumed before they bind, so filtering sees
 * the room, host ports and anti-affinity of pods still binding; a failed binding forgets the
 * pod and requeues it; bindings overlap, at most MAX_BINDINGS_IN_FLIGHT at a time; stop abandons
 * them. Time is a ManualClock; the fake API's bindings wait on it or on the test.
 */
import { describe, expect, it } from "vitest";
import type { AnyActorRef } from "xstate";
import type { JsonObject } from "../../../actors/api/json.ts";
import { conflictStatus } from "../../../actors/api/status.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import { defaultProfile } from "../../../actors/scheduler/default-profile.ts";
import type { FrameworkHandle, Profile } from "../../../actors/scheduler/framework.ts";
import type { PodInfo } from "../../../actors/scheduler/node-info.ts";
import type { PodSchedulingOutcome } from "../../../actors/scheduler/pod-scheduling.ts";
import {
  MAX_BINDINGS_IN_FLIGHT,
  QUEUE_FLUSH_INTERVAL_MS,
} from "../../../actors/scheduler/scheduler.ts";
import { ASSUMED_POD_TTL_MS } from "../../../actors/scheduler/scheduler-cache.ts";
import { SchedulingQueue } from "../../../actors/scheduler/scheduling-queue.ts";
import { WaitingPods } from "../../../actors/scheduler/waiting-pods.ts";
import { ManualClock, sleep } from "../../../actors/system/clock.ts";
import { cacheOf, node, pod, startSchedulerActor } from "./cluster-fixture.ts";

/** Lets promise chains run; no time passes. */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

interface HeldBinding {
  pod: string;
  nodeName: string;
  succeed: () => void;
  fail: (error: Error) => void;
}

/** A fake API whose bindings wait until the test settles them. */
class HeldBindings {
  readonly held: HeldBinding[] = [];
  readonly bind = (info: PodInfo, nodeName: string): Promise<void> =>
    new Promise((resolve, reject) =>
      this.held.push({ pod: info.key, nodeName, succeed: resolve, fail: reject }),
    );

  take(pod: string): HeldBinding {
    const i = this.held.findIndex((b) => b.pod === pod);
    if (i < 0) throw new Error(`no binding held for ${pod}`);
    return this.held.splice(i, 1)[0] as HeldBinding;
  }
}

function startScheduler(
  nodes: JsonObject[],
  pods: JsonObject[],
  bind: FrameworkHandle["bindPod"],
  clock = new ManualClock(),
  profileOf: (handle: FrameworkHandle) => Profile = defaultProfile,
) {
  const queue = new SchedulingQueue();
  for (const p of pods) queue.add(p, clock.nowMs());
  const cache = cacheOf(nodes);
  const waitingPods = new WaitingPods();
  const profile = profileOf({ cache, waitingPods, bindPod: bind });
  const reports: { pod: string; outcome: PodSchedulingOutcome }[] = [];
  const actor = startSchedulerActor({
    queue,
    cache,
    waitingPods,
    profile,
    clock,
    report: (p, outcome) => reports.push({ pod: p.info.key, outcome }),
  });
  /** Each pod statechart's state, by pod key. */
  const podStates = () => {
    const out = new Map<string, unknown>();
    for (const child of Object.values(actor.getSnapshot().children) as AnyActorRef[]) {
      const key = child.id.split(":")[1] as string;
      out.set(key, child.getSnapshot().value);
    }
    return out;
  };
  const binding = () =>
    [...podStates()].filter(([, state]) => state === "binding").map(([key]) => key);
  return { actor, queue, cache, clock, reports, podStates, binding };
}

const outcomes = (reports: { pod: string; outcome: PodSchedulingOutcome }[]) =>
  Object.fromEntries(reports.map((r) => [r.pod, r.outcome.outcome]));

describe("the scheduler: assumed pods count at once", () => {
  it("a node with room for 2 gets 2 of 5 pods scheduled back to back while their binds are pending", async () => {
    const api = new HeldBindings();
    const pods = ["p1", "p2", "p3", "p4", "p5"].map((n) => pod(n, { cpu: "1" }));
    const s = startScheduler([node("a", { cpu: "2" })], pods, api.bind);
    await settle();
    expect(api.held.map((b) => b.nodeName)).toEqual(["a", "a"]);
    // both pods' statecharts are in binding at once, and the node's room is taken by them
    expect(s.binding()).toEqual(["default/p1", "default/p2"]);
    expect(s.cache.node("a")?.podCount).toBe(2);
    expect(s.reports.map((r) => r.outcome.outcome)).toEqual([
      "unschedulable",
      "unschedulable",
      "unschedulable",
    ]);
    expect(s.queue.sizes()).toMatchObject({ unschedulable: 3, inFlight: 2 });

    api.take("default/p1").succeed();
    api.take("default/p2").succeed();
    await settle();
    expect(outcomes(s.reports)).toMatchObject({ "default/p1": "bound", "default/p2": "bound" });
    expect(s.binding()).toEqual([]);
    expect(s.actor.getSnapshot().children).toEqual({});
    expect(s.queue.sizes()).toMatchObject({ unschedulable: 3, inFlight: 0 });
    s.actor.stop();
  });

  it("required anti-affinity and host ports see the pods still binding", async () => {
    const api = new HeldBindings();
    const anti = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: "web" } }, topologyKey: "kubernetes.io/hostname" },
        ],
      },
    };
    const s = startScheduler(
      [node("a"), node("b"), node("c")],
      [
        ...["w1", "w2", "w3", "w4"].map((n) => pod(n, { labels: { app: "web" }, affinity: anti })),
        pod("port-1", { hostPort: 8080, nodeSelector: { "kubernetes.io/hostname": "a" } }),
        pod("port-2", { hostPort: 8080, nodeSelector: { "kubernetes.io/hostname": "a" } }),
      ],
      api.bind,
    );
    await settle();
    const webNodes = api.held.filter((b) => b.pod.startsWith("default/w")).map((b) => b.nodeName);
    expect(new Set(webNodes)).toEqual(new Set(["a", "b", "c"]));
    expect(api.held.filter((b) => b.pod.startsWith("default/port")).length).toBe(1);
    expect(s.reports.map((r) => r.outcome.outcome)).toEqual(["unschedulable", "unschedulable"]);
    s.actor.stop();
  });
});

describe("the scheduler: a failed binding", () => {
  it("forgets the assumed pod (the node's room is free at once) and requeues it with backoff", async () => {
    // one node with room for one pod: first is assumed onto it, so second is unschedulable
    const api = new HeldBindings();
    const s = startScheduler(
      [node("a", { cpu: "1" })],
      [pod("first", { cpu: "1" }), pod("second", { cpu: "1", created: "2024-01-02T00:00:00Z" })],
      api.bind,
    );
    await settle();
    expect(s.binding()).toEqual(["default/first"]);
    expect(outcomes(s.reports)).toEqual({ "default/second": "unschedulable" });

    s.clock.advance(500);
    api.take("default/first").fail(new Error("etcdserver: request timed out"));
    await settle();
    expect(s.reports.at(-1)).toMatchObject({
      pod: "default/first",
      outcome: { outcome: "bindingFailed", nodeName: "a" },
    });
    expect(s.cache.node("a")?.podCount).toBe(0);
    expect(s.cache.isAssumed("default/first")).toBe(false);
    expect(s.queue.where("default/first")).toBe("backoff");
    // the freed room is a cluster event: the unschedulable pod goes on to backoff, then active
    expect(s.queue.where("default/second")).toBe("backoff");

    // second's backoff (from its failure at 0) ends at 1 s, first's (from 500 ms) at 1.5 s
    s.clock.advance(500);
    await settle();
    expect(s.binding()).toEqual(["default/second"]);
    expect(s.cache.node("a")?.hasPod("default/second")).toBe(true);
    s.actor.stop();
  });

  it("409 Conflict: bound by someone else, the pod leaves the queue", async () => {
    const api = new HeldBindings();
    const s = startScheduler([node("a")], [pod("p")], api.bind);
    await settle();
    api
      .take("default/p")
      .fail(new ApiError(conflictStatus({ group: "", resource: "pods" }, "p", "already bound")));
    await settle();
    expect(s.reports.at(-1)?.outcome.outcome).toBe("bindingFailed");
    expect(s.queue.has("default/p")).toBe(false);
    s.actor.stop();
  });
});

describe("the scheduler: bindings overlap", () => {
  it("100 pods whose binds take 50 ms each finish in 2 rounds of binds, not 100 × 50 ms", async () => {
    const BIND_MS = 50;
    const clock = new ManualClock();
    const nodes = Array.from({ length: 10 }, (_, i) => node(`n${i}`));
    const pods = Array.from({ length: 100 }, (_, i) => pod(`p${i}`, { cpu: "100m" }));
    const s = startScheduler(nodes, pods, () => sleep(clock, BIND_MS), clock);
    let mostBinding = 0;
    while (s.reports.length < pods.length && clock.nowMs() < pods.length * BIND_MS) {
      await settle();
      mostBinding = Math.max(mostBinding, s.binding().length);
      clock.advance(1);
    }
    expect(outcomes(s.reports)).toEqual(
      Object.fromEntries(pods.map((_, i) => [`default/p${i}`, "bound"])),
    );
    // serial binding would take 5,000 ms; MAX_BINDINGS_IN_FLIGHT at a time, two rounds
    expect(mostBinding).toBe(MAX_BINDINGS_IN_FLIGHT);
    expect(clock.nowMs()).toBeLessThanOrEqual(2 * BIND_MS + 2);
    s.actor.stop();
  });

  it("at MAX_BINDINGS_IN_FLIGHT the next scheduling cycle waits for a slot", async () => {
    const api = new HeldBindings();
    const pods = Array.from({ length: MAX_BINDINGS_IN_FLIGHT + 5 }, (_, i) =>
      pod(`p${String(i).padStart(3, "0")}`, { cpu: "10m" }),
    );
    const s = startScheduler([node("a", { pods: 500 })], pods, api.bind);
    await settle();
    expect(api.held.length).toBe(MAX_BINDINGS_IN_FLIGHT);
    expect(s.actor.getSnapshot().value).toBe("idle");
    expect(s.queue.sizes()).toMatchObject({ active: 5, inFlight: MAX_BINDINGS_IN_FLIGHT });

    api.take("default/p000").succeed();
    await settle();
    expect(api.held.length).toBe(MAX_BINDINGS_IN_FLIGHT);
    expect(s.queue.sizes()).toMatchObject({ active: 4, inFlight: MAX_BINDINGS_IN_FLIGHT });
    s.actor.stop();
  });
});

describe("the scheduler: assumed pods that are never confirmed", () => {
  it("a bound pod the informer never shows expires after ASSUMED_POD_TTL_MS; a confirmed one stays", async () => {
    const api = new HeldBindings();
    const s = startScheduler([node("a")], [pod("lost"), pod("seen")], api.bind);
    await settle();
    api.take("default/lost").succeed();
    api.take("default/seen").succeed();
    await settle();
    // the informer shows one of them bound: the assumed entry becomes the real pod
    s.cache.setPod(pod("seen", { nodeName: "a" }));
    s.clock.advance(ASSUMED_POD_TTL_MS - QUEUE_FLUSH_INTERVAL_MS);
    expect(s.cache.isAssumed("default/lost")).toBe(true);
    s.clock.advance(QUEUE_FLUSH_INTERVAL_MS);
    expect(s.cache.node("a")?.hasPod("default/lost")).toBe(false);
    expect(s.cache.node("a")?.hasPod("default/seen")).toBe(true);
    s.actor.stop();
  });
});

describe("the scheduler: crashes and stop", () => {
  it("a pod statechart that throws (a plugin bug) is requeued with backoff; the scheduler goes on", async () => {
    const api = new HeldBindings();
    const broken = (handle: FrameworkHandle): Profile => ({
      ...defaultProfile(handle),
      filters: [
        ...defaultProfile(handle).filters,
        {
          name: "Broken",
          prepareFilter: (p) => {
            if (p.key === "default/bad") throw new Error("plugin bug");
            return null;
          },
        },
      ],
    });
    const s = startScheduler(
      [node("a")],
      [pod("bad"), pod("good", { created: "2024-01-02T00:00:00Z" })],
      api.bind,
      new ManualClock(),
      broken,
    );
    await settle();
    expect(s.actor.getSnapshot().status).toBe("active");
    expect(s.queue.where("default/bad")).toBe("backoff");
    expect(s.binding()).toEqual(["default/good"]);
    s.actor.stop();
  });

  it("stop abandons the bindings in flight: their statecharts stop, late results change nothing, no timer is left", async () => {
    const api = new HeldBindings();
    const s = startScheduler([node("a")], [pod("p1"), pod("p2")], api.bind);
    await settle();
    const children = Object.values(s.actor.getSnapshot().children) as AnyActorRef[];
    expect(children.length).toBe(2);
    s.actor.send({ type: "scheduler.stop" });
    expect(s.actor.getSnapshot().value).toBe("stopped");
    expect(children.map((c) => c.getSnapshot().status)).toEqual(["stopped", "stopped"]);
    expect(s.clock.pending()).toBe(0);
    api.take("default/p1").succeed();
    api.take("default/p2").fail(new Error("late"));
    await settle();
    expect(s.reports).toEqual([]);
  });
});
