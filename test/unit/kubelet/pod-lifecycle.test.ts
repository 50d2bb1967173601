/**
 * The pod statechart (actors/kubelet/pod-lifecycle.ts) on a fake runtime under a ManualClock:
 * start, crash → CrashLoopBackOff (doubling) → restart, restartPolicy, liveness failure →
 * kill → restart, readiness gating Ready, unknown image → ErrImagePull / ImagePullBackOff,
 * deletion → stop with the pod's grace period → removed; the Events each step records and
 * CreateContainerConfigError for a missing required reference.
 */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import type { JsonObject } from "../../../actors/api/json.ts";
import { crashLoopBackoffMs } from "../../../actors/kubelet/limits.ts";
import {
  type PodLifecycleDeps,
  podLifecycleMachine,
} from "../../../actors/kubelet/pod-lifecycle.ts";
import type { ProbeRunner } from "../../../actors/kubelet/probe-runner.ts";
import {
  type ContainerExit,
  type ContainerHandle,
  type ContainerRuntime,
  type ContainerSpec,
  ImagePullError,
} from "../../../actors/kubelet/runtime.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

class FakeRuntime implements ContainerRuntime {
  started: ContainerSpec[] = [];
  /** Containers a previous kubelet left running, by container name (adopted at most once). */
  adoptable = new Map<string, { handle: ContainerHandle; attempt: number }>();
  stops: { handle: ContainerHandle; gracePeriodMs: number }[] = [];
  private next = 0;
  private readonly live = new Map<
    string,
    { handle: ContainerHandle; listeners: ((e: ContainerExit) => void)[] }
  >();
  constructor(private readonly clock: ManualClock) {}

  async startContainer(spec: ContainerSpec): Promise<ContainerHandle> {
    if (spec.image === "nope") throw new ImagePullError(spec.image);
    this.started.push(spec);
    const handle: ContainerHandle = {
      id: `c${++this.next}`,
      podUid: spec.podUid,
      containerName: spec.containerName,
      pid: 1000 + this.next,
      startedAtMs: this.clock.wallMs(),
    };
    this.live.set(handle.id, { handle, listeners: [] });
    return handle;
  }
  async adoptContainer(spec: ContainerSpec) {
    const found = this.adoptable.get(spec.containerName);
    if (!found) return null;
    this.adoptable.delete(spec.containerName);
    this.live.set(found.handle.id, { handle: found.handle, listeners: [] });
    return found;
  }
  /** An adopted container's exit: seen by polling, its status unknown. */
  vanish(name: string): void {
    for (const [id, c] of this.live) {
      if (c.handle.containerName !== name) continue;
      this.live.delete(id);
      for (const l of c.listeners)
        l({ exitCode: 137, signal: null, finishedAtMs: this.clock.wallMs(), statusUnknown: true });
    }
  }
  /** The container named `name` exits with `exitCode`. */
  exit(name: string, exitCode: number, signal: string | null = null): void {
    for (const [id, c] of this.live) {
      if (c.handle.containerName !== name) continue;
      this.live.delete(id);
      for (const l of c.listeners) l({ exitCode, signal, finishedAtMs: this.clock.wallMs() });
    }
  }
  running(name: string): boolean {
    return [...this.live.values()].some((c) => c.handle.containerName === name);
  }
  stopContainer(handle: ContainerHandle, gracePeriodMs: number): Promise<ContainerExit> {
    this.stops.push({ handle, gracePeriodMs });
    return new Promise((resolve) => {
      const c = this.live.get(handle.id);
      if (!c) return resolve({ exitCode: 137, signal: "SIGKILL", finishedAtMs: 0 });
      c.listeners.push(resolve);
      // the fake "process" honours SIGTERM at once
      this.exit(handle.containerName, 143, "SIGTERM");
    });
  }
  onExit(handle: ContainerHandle, listener: (exit: ContainerExit) => void): () => void {
    this.live.get(handle.id)?.listeners.push(listener);
    return () => {};
  }
  status(): never {
    throw new Error("unused");
  }
  async logs() {
    return { text: "", nextByte: 0 };
  }
  async exec() {
    return 0;
  }
  async removePod() {}
}

/** Probe results by `container:kind` (liveness/readiness/startup); default success. */
class FakeProbes implements ProbeRunner {
  results = new Map<string, boolean>();
  async run(probe: JsonObject, target: { handle: ContainerHandle }): Promise<boolean> {
    const kind = String(probe.kind);
    return this.results.get(`${target.handle.containerName}:${kind}`) ?? true;
  }
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
};

function setupPod(spec: JsonObject, status?: JsonObject, adopt?: (runtime: FakeRuntime) => void) {
  const clock = new ManualClock();
  const runtime = new FakeRuntime(clock);
  adopt?.(runtime);
  const probes = new FakeProbes();
  const statuses: JsonObject[] = [];
  const events: string[] = [];
  const deps: PodLifecycleDeps = {
    runtime,
    probes,
    clock,
    limits: {
      crashLoopBackoffInitialMs: 10_000,
      crashLoopBackoffMaxMs: 300_000,
      crashLoopBackoffResetMs: 600_000,
      defaultProbeTimeoutMs: 1_000,
    },
    nodeName: "n-test",
    hostIP: "127.0.0.1",
    prepare: async () => ({ podIP: "127.200.0.7", volumes: {} }),
    report: (s) => statuses.push(s),
    events: { event: (_, type, reason, message) => events.push(`${type} ${reason}: ${message}`) },
  };
  const pod: JsonObject = {
    metadata: { name: "p", namespace: "default", uid: "u-1" },
    spec,
    ...(status ? { status } : {}),
  };
  const actor = createActor(podLifecycleMachine, { input: { pod, deps }, clock }).start();
  const container = (i = 0) =>
    (statuses.at(-1)?.containerStatuses as JsonObject[] | undefined)?.[i] as
      | (JsonObject & {
          state: JsonObject;
          lastState: JsonObject;
          restartCount: number;
          ready: boolean;
        })
      | undefined;
  const condition = (type: string) =>
    (statuses.at(-1)!.conditions as { type: string; status: string }[]).find((c) => c.type === type)
      ?.status;
  return { clock, runtime, probes, statuses, actor, container, condition, events };
}

const one = (extra: JsonObject = {}, podExtra: JsonObject = {}) => ({
  containers: [{ name: "app", image: "bosun/pause", ...extra }],
  ...podExtra,
});

describe("pod statechart", () => {
  it("starts its containers with the pod facts in env and reports Running/Ready with the pod IP", async () => {
    const { actor, runtime, statuses, container, condition } = setupPod(
      one({ env: [{ name: "GREETING", value: "hi" }] }),
    );
    await flush();
    expect(actor.getSnapshot().value).toBe("running");
    const env = runtime.started[0]!.env;
    expect(env).toMatchObject({
      POD_NAME: "p",
      POD_NAMESPACE: "default",
      POD_IP: "127.200.0.7",
      NODE_NAME: "n-test",
      GREETING: "hi",
    });
    const status = statuses.at(-1)!;
    expect(status.phase).toBe("Running");
    expect(status.podIP).toBe("127.200.0.7");
    expect(status.hostIP).toBe("127.0.0.1");
    expect(status.startTime).toBeTruthy();
    expect(container()?.state).toHaveProperty("running");
    expect(condition("Ready")).toBe("True");
    expect(condition("PodScheduled")).toBe("True");
    expect(condition("Initialized")).toBe("True");
  });

  it("a crash waits in CrashLoopBackOff (10 s, then 20 s) before each restart", async () => {
    const { actor, runtime, clock, container } = setupPod(one());
    await flush();
    runtime.exit("app", 1);
    await flush();
    expect(actor.getSnapshot().value).toBe("backoff");
    expect(container()?.state).toEqual({ waiting: { reason: "CrashLoopBackOff" } });
    expect(
      (container()!.lastState as { terminated: { exitCode: number } }).terminated.exitCode,
    ).toBe(1);
    clock.advance(9_999);
    await flush();
    expect(runtime.started).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(runtime.started).toHaveLength(2);
    expect(container()?.restartCount).toBe(1);
    expect(actor.getSnapshot().value).toBe("running");

    runtime.exit("app", 2);
    await flush();
    clock.advance(19_999);
    await flush();
    expect(runtime.started).toHaveLength(2);
    clock.advance(1);
    await flush();
    expect(runtime.started).toHaveLength(3);
    expect(container()?.restartCount).toBe(2);
    expect(runtime.started[2]!.attempt).toBe(2);
  });

  it("CrashLoopBackOff doubles up to its cap", () => {
    const limits = { crashLoopBackoffInitialMs: 10_000, crashLoopBackoffMaxMs: 300_000 };
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => crashLoopBackoffMs(n, limits))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000,
    ]);
  });

  it("restartPolicy Never: an exit ends the pod (Failed on non-zero); OnFailure: exit 0 Succeeds", async () => {
    const never = setupPod(one({}, { restartPolicy: "Never" }));
    await flush();
    never.runtime.exit("app", 3);
    await flush();
    expect(never.actor.getSnapshot().value).toBe("terminated");
    expect(never.statuses.at(-1)?.phase).toBe("Failed");

    const onFailure = setupPod(one({}, { restartPolicy: "OnFailure" }));
    await flush();
    onFailure.runtime.exit("app", 0);
    await flush();
    expect(onFailure.actor.getSnapshot().value).toBe("terminated");
    expect(onFailure.statuses.at(-1)?.phase).toBe("Succeeded");
  });

  it("a liveness probe failing failureThreshold times kills the container, which restarts", async () => {
    const { actor, runtime, probes, clock, container } = setupPod(
      one(
        {
          livenessProbe: {
            kind: "liveness",
            exec: { command: ["true"] },
            periodSeconds: 1,
            failureThreshold: 2,
          },
        },
        { terminationGracePeriodSeconds: 5 },
      ),
    );
    await flush();
    probes.results.set("app:liveness", false);
    clock.advance(0);
    await flush();
    expect(runtime.stops).toHaveLength(0);
    clock.advance(1_000);
    await flush();
    expect(runtime.stops).toHaveLength(1);
    expect(runtime.stops[0]!.gracePeriodMs).toBe(5_000);
    expect(actor.getSnapshot().value).toBe("backoff");
    probes.results.set("app:liveness", true);
    clock.advance(10_000);
    await flush();
    expect(container()?.restartCount).toBe(1);
    expect(actor.getSnapshot().value).toBe("running");
  });

  it("readiness gates Ready: not ready until the probe passes, unready when it fails", async () => {
    const { probes, clock, condition, container } = setupPod(
      one({
        readinessProbe: {
          kind: "readiness",
          tcpSocket: { port: 80 },
          periodSeconds: 1,
          initialDelaySeconds: 2,
          failureThreshold: 1,
        },
      }),
    );
    await flush();
    expect(condition("Ready")).toBe("False");
    expect(container()?.ready).toBe(false);
    clock.advance(2_000);
    await flush();
    expect(condition("Ready")).toBe("True");
    expect(condition("ContainersReady")).toBe("True");
    probes.results.set("app:readiness", false);
    clock.advance(1_000);
    await flush();
    expect(condition("Ready")).toBe("False");
  });

  it("an unknown image waits in ErrImagePull, then ImagePullBackOff, and the pod stays Pending", async () => {
    const { actor, container, statuses } = setupPod({
      containers: [{ name: "app", image: "nope" }],
    });
    await flush();
    expect(actor.getSnapshot().value).toBe("backoff");
    expect(statuses.some((s) => JSON.stringify(s).includes("ErrImagePull"))).toBe(true);
    expect((container()!.state as { waiting: { reason: string } }).waiting.reason).toBe(
      "ImagePullBackOff",
    );
    expect(statuses.at(-1)?.phase).toBe("Pending");
  });

  it("deletion stops every container with the deletion grace period and ends in removed", async () => {
    const { actor, runtime } = setupPod({
      terminationGracePeriodSeconds: 30,
      containers: [
        { name: "a", image: "bosun/pause" },
        { name: "b", image: "bosun/pause" },
      ],
    });
    await flush();
    actor.send({ type: "pod.deleted", gracePeriodMs: 2_000 });
    await flush();
    expect(runtime.stops.map((s) => [s.handle.containerName, s.gracePeriodMs])).toEqual([
      ["a", 2_000],
      ["b", 2_000],
    ]);
    expect(actor.getSnapshot().value).toBe("removed");
    expect(actor.getSnapshot().status).toBe("done");
    expect(runtime.running("a") || runtime.running("b")).toBe(false);
  });

  it("a deletion during start stops what the start started", async () => {
    const { actor, runtime } = setupPod(one());
    actor.send({ type: "pod.deleted" });
    await flush();
    expect(actor.getSnapshot().status).toBe("done");
    expect(runtime.running("app")).toBe(false);
  });

  describe("after a kubelet restart", () => {
    const reported = {
      phase: "Running",
      podIP: "127.200.0.7",
      startTime: "2023-11-14T22:13:20Z",
      containerStatuses: [
        {
          name: "app",
          restartCount: 2,
          state: { running: { startedAt: "2023-11-14T22:13:20Z" } },
          lastState: { terminated: { exitCode: 1, reason: "Error" } },
        },
      ],
    };
    const leftRunning = (runtime: FakeRuntime) =>
      runtime.adoptable.set("app", {
        handle: {
          id: "u-1/app/4242.99",
          podUid: "u-1",
          containerName: "app",
          pid: 4242,
          startedAtMs: 5,
        },
        attempt: 2,
      });

    it("re-adopts a running container: running at once, same container ID, restartCount unchanged, never started", async () => {
      const { actor, runtime, statuses, container } = setupPod(one(), reported, leftRunning);
      await flush();
      expect(actor.getSnapshot().value).toBe("running");
      expect(runtime.started).toHaveLength(0);
      expect(container()?.restartCount).toBe(2);
      expect(container()?.containerID).toBe("bosun://u-1/app/4242.99");
      expect(container()?.state).toHaveProperty("running");
      expect(container()?.lastState).toEqual(reported.containerStatuses[0]!.lastState);
      expect(statuses.at(-1)?.startTime).toBe(reported.startTime);
      // never reported Pending on the way (the pod was Running all along)
      expect(statuses.every((s) => s.phase === "Running")).toBe(true);
    });

    it("an adopted container's exit is a lost container's (137, ContainerStatusUnknown); it restarts as the next attempt", async () => {
      const { actor, runtime, clock, container } = setupPod(one(), reported, leftRunning);
      await flush();
      runtime.vanish("app");
      await flush();
      expect(actor.getSnapshot().value).toBe("backoff");
      expect(container()?.lastState).toMatchObject({
        terminated: { exitCode: 137, reason: "ContainerStatusUnknown" },
      });
      clock.advance(10_000);
      await flush();
      expect(runtime.started.map((s) => s.attempt)).toEqual([3]);
      expect(container()?.restartCount).toBe(3);
    });

    it("a container that died while no kubelet ran restarts as the next attempt (restartCount carries over)", async () => {
      const { actor, runtime, container } = setupPod(one(), reported);
      await flush();
      expect(actor.getSnapshot().value).toBe("running");
      expect(runtime.started.map((s) => s.attempt)).toEqual([3]);
      expect(container()?.restartCount).toBe(3);
    });

    it("a container that finished and will not restart is not run again", async () => {
      const finished: JsonObject = {
        phase: "Running",
        containerStatuses: [
          { name: "app", restartCount: 0, state: { running: {} }, lastState: {} },
          {
            name: "job",
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: "Completed" } },
            lastState: {},
          },
        ],
      };
      const { runtime } = setupPod(
        {
          restartPolicy: "OnFailure",
          containers: [
            { name: "app", image: "bosun/pause" },
            { name: "job", image: "bosun/sh" },
          ],
        },
        finished,
      );
      await flush();
      expect(runtime.started.map((s) => s.containerName)).toEqual(["app"]);
    });
  });

  it("records Pulling, Pulled, Created, Started; a crash's BackOff; Killing on delete", async () => {
    const { actor, runtime, clock, events } = setupPod(one());
    await flush();
    expect(events).toEqual([
      'Normal Pulling: Pulling image "bosun/pause"',
      expect.stringMatching(/^Normal Pulled: Successfully pulled image "bosun\/pause" in /),
      "Normal Created: Created container: app",
      "Normal Started: Started container app",
    ]);
    runtime.exit("app", 1);
    await flush();
    expect(events.at(-1)).toBe(
      "Warning BackOff: Back-off restarting failed container app in pod p_default(u-1)",
    );
    clock.advance(10_000);
    await flush();
    actor.send({ type: "pod.deleted" });
    await flush();
    expect(events.at(-1)).toBe("Normal Killing: Stopping container app");
  });

  it("an unknown image: Failed with the pull error, then BackOff and ImagePullBackOff", async () => {
    const { events } = setupPod(one({ image: "nope" }));
    await flush();
    expect(events).toEqual([
      'Normal Pulling: Pulling image "nope"',
      'Warning Failed: Failed to pull image "nope": image "nope" not found in the local image catalog',
      "Warning Failed: Error: ErrImagePull",
      'Normal BackOff: Back-off pulling image "nope"',
      "Warning Failed: Error: ImagePullBackOff",
    ]);
  });

  it("a liveness failure records Killing with its reason", async () => {
    const { probes, clock, events } = setupPod(
      one({ livenessProbe: { kind: "liveness", periodSeconds: 1, failureThreshold: 1 } }),
    );
    await flush();
    probes.results.set("app:liveness", false);
    clock.advance(1_000);
    await flush();
    expect(events).toContain("Warning Unhealthy: Liveness probe failed: unknown probe");
    expect(events).toContain(
      "Normal Killing: Container app failed liveness probe, will be restarted",
    );
  });

  it("a missing required ConfigMap key: waiting CreateContainerConfigError and a Failed event; tried again", async () => {
    const { runtime, clock, container, events } = setupPod(
      one({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "cfg", key: "k" } } }] }),
    );
    await flush();
    expect(runtime.started).toHaveLength(0);
    expect(container()?.state).toEqual({
      waiting: { reason: "CreateContainerConfigError", message: 'configmap "cfg" not found' },
    });
    expect(events).toEqual(['Warning Failed: Error: configmap "cfg" not found']);
    clock.advance(10_000);
    await flush();
    expect(events).toHaveLength(2);
  });
});

describe("pod statechart: activeDeadlineSeconds", () => {
  it("a pod active past its deadline is stopped and Failed with DeadlineExceeded, for good", async () => {
    const { actor, clock, runtime, statuses } = setupPod(one({}, { activeDeadlineSeconds: 30 }));
    await flush();
    expect(actor.getSnapshot().value).toBe("running");
    clock.advance(29_999);
    await flush();
    expect(runtime.stops).toEqual([]);
    clock.advance(1);
    await flush();
    expect(runtime.stops.length).toBe(1);
    expect(actor.getSnapshot().value).toBe("terminated");
    expect(statuses.at(-1)).toMatchObject({
      phase: "Failed",
      reason: "DeadlineExceeded",
      message: "Pod was active on the node longer than the specified deadline",
    });
    // not restarted, whatever the restart policy says
    clock.advance(600_000);
    await flush();
    expect(runtime.started.length).toBe(1);
  });

  it("counts from the reported startTime: a pod already past it (a kubelet restart) fails at once", async () => {
    const { actor, statuses } = setupPod(one({}, { activeDeadlineSeconds: 5 }), {
      phase: "Running",
      startTime: "2020-01-01T00:00:00Z",
    });
    await flush();
    expect(actor.getSnapshot().value).toBe("terminated");
    expect(statuses.at(-1)).toMatchObject({ phase: "Failed", reason: "DeadlineExceeded" });
  });

  it("a pod that finished before its deadline stays Succeeded", async () => {
    const { actor, clock, runtime, statuses } = setupPod(
      one({}, { activeDeadlineSeconds: 10, restartPolicy: "Never" }),
    );
    await flush();
    runtime.exit("app", 0);
    await flush();
    clock.advance(20_000);
    await flush();
    expect(actor.getSnapshot().value).toBe("terminated");
    expect(statuses.at(-1)?.phase).toBe("Succeeded");
  });
});
