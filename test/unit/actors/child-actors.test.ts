/**
 * Child actors (ActorSystem.spawnChild): statecharts a component starts on behalf of one of its
 * actors — a kubelet's pods, a controller manager's reconcile loops and informers — are
 * registered at `node/parent/child`, listed, inspected and charted like any actor, and leave
 * the registry when they stop. A thousand hollow pods cost a bounded ring, not a growing one.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { setup } from "xstate";
import type { JsonObject } from "../../../actors/api/json.ts";
import { HollowProbeRunner, HollowRuntime } from "../../../actors/kubelet/hollow-runtime.ts";
import { DEFAULT_KUBELET_LIMITS } from "../../../actors/kubelet/limits.ts";
import { podLifecycleMachine } from "../../../actors/kubelet/pod-lifecycle.ts";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

const logger = pino({ level: "silent" });

const parentMachine = setup({}).createMachine({
  id: "parent",
  initial: "serving",
  states: { serving: {} },
});

const stepMachine = setup({
  types: { events: {} as { type: "next" } },
}).createMachine({
  id: "step",
  initial: "one",
  states: { one: { on: { next: "two" } }, two: { on: { next: "done" } }, done: { type: "final" } },
});

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function system(limits: Partial<ActorSystem["limits"]> = {}) {
  const clock = new ManualClock();
  const s = new ActorSystem({ nodeId: "n1", clock, logger, limits });
  s.spawn("kubelet", parentMachine);
  return { clock, system: s };
}

describe("child actors", () => {
  it("are registered, listed, charted and inspected at node/parent/child", async () => {
    const { system: s } = system();
    const child = s.spawnChild("kubelet", "pod:default/web-0", stepMachine);
    expect(s.actorRef("kubelet/pod:default/web-0")).toBe(child);
    expect(s.machineOf("kubelet/pod:default/web-0")?.id).toBe("step");
    expect(s.status().map((a) => a.address)).toContain("n1/kubelet/pod:default/web-0");
    s.tell("n1/test", "n1/kubelet/pod:default/web-0", "next", null);
    await flush();
    expect(child.getSnapshot().value).toBe("two");
    const records = s.ring.read(0, { address: "n1/kubelet/pod:default/web-0" }).records;
    expect(records.some((r) => r.kind === "@xstate.snapshot" && r.state === "two")).toBe(true);
  });

  it("leave the registry when they finish or are despawned, freeing the name", () => {
    const { system: s } = system();
    const a = s.spawnChild("kubelet", "a", stepMachine);
    a.send({ type: "next" });
    a.send({ type: "next" });
    expect(s.has("kubelet/a")).toBe(false);
    s.spawnChild("kubelet", "b", stepMachine);
    expect(s.despawn("kubelet/b")).toBe(true);
    expect(s.has("kubelet/b")).toBe(false);
    s.spawnChild("kubelet", "b", stepMachine); // the name is free again
    expect(() => s.spawnChild("kubelet", "b", stepMachine)).toThrow(/already exists/);
  });

  it("need a registered parent and stop with the system", () => {
    const { system: s } = system();
    expect(() => s.spawnChild("nobody", "x", stepMachine)).toThrow(/no parent/);
    const c = s.spawnChild("kubelet", "c", stepMachine);
    s.stop();
    expect(c.getSnapshot().status).toBe("stopped");
    expect(s.has("kubelet/c")).toBe(false);
  });

  it("are bounded by maxChildActors, apart from maxActors", () => {
    const { system: s } = system({ maxActors: 2, maxChildActors: 3 });
    for (const n of ["a", "b", "c"]) s.spawnChild("kubelet", n, stepMachine);
    expect(() => s.spawnChild("kubelet", "d", stepMachine)).toThrow(/child actor limit/);
  });

  it("1,000 hollow pods through their lifecycle keep the ring at its bound and leave no actor behind", async () => {
    const ringRecords = 2_000;
    const { system: s, clock } = system({ inspectionRingRecords: ringRecords });
    const runtime = new HollowRuntime({ clock, nodeName: "hollow-0001" });
    const deps = {
      runtime,
      probes: new HollowProbeRunner(runtime),
      clock,
      limits: DEFAULT_KUBELET_LIMITS,
      nodeName: "hollow-0001",
      hostIP: "127.250.1.1",
      prepare: async () => ({ podIP: "127.250.1.2", volumes: {} }),
      report: () => undefined,
    };
    const pods = 1_000;
    const actors = [];
    for (let i = 0; i < pods; i++) {
      const pod: JsonObject = {
        metadata: { name: `p${i}`, namespace: "default", uid: `uid-${i}` },
        spec: { containers: [{ name: "c", image: "bosun/pause" }] },
      };
      actors.push(
        s.spawnChild("kubelet", `pod:default/p${i}`, podLifecycleMachine, { input: { pod, deps } }),
      );
    }
    await flush();
    expect(s.status().length).toBe(pods + 1);
    expect(actors.every((a) => a.getSnapshot().value === "running")).toBe(true);
    for (const a of actors) a.send({ type: "pod.deleted", gracePeriodMs: 0 });
    for (let i = 0; i < 5; i++) {
      clock.advance(100);
      await flush();
    }
    expect(actors.every((a) => a.getSnapshot().status === "done")).toBe(true);
    expect(s.status().map((a) => a.address)).toEqual(["n1/kubelet"]);
    // every pod left records, yet the ring holds no more than its capacity
    expect(s.ring.nextSeq).toBeGreaterThan(ringRecords * 2);
    expect(s.ring.read(0, { limit: 1_000 }).truncated).toBe(false);
    const held = s.ring.read(s.ring.nextSeq - ringRecords - 10, { limit: 1_000 });
    expect(held.truncated).toBe(true);
  });
});
