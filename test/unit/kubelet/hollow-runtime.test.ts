/**
 * The hollow runtime (kubemark's hollow node runtime): containers start at once whatever their
 * image, run until stopped, stop at once; logs are a line or two in memory; exec and every probe
 * kind succeed while a container runs. No process is ever started.
 */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  HOLLOW_PID_BASE,
  HollowProbeRunner,
  HollowRuntime,
} from "../../../actors/kubelet/hollow-runtime.ts";
import { DEFAULT_KUBELET_LIMITS } from "../../../actors/kubelet/limits.ts";
import { podLifecycleMachine } from "../../../actors/kubelet/pod-lifecycle.ts";
import type { ProbeTarget } from "../../../actors/kubelet/probe-runner.ts";
import type { ContainerExit, ContainerSpec } from "../../../actors/kubelet/runtime.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

const spec = (extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  podUid: "uid-1",
  podName: "p",
  podNamespace: "default",
  containerName: "c",
  image: "registry.example.com/team/app:1.2.3",
  command: [],
  args: [],
  env: {},
  volumeMounts: [],
  ports: [8080],
  attempt: 0,
  ...extra,
});

function setup() {
  const clock = new ManualClock();
  return { clock, runtime: new HollowRuntime({ clock, nodeName: "hollow-0001" }) };
}

describe("hollow runtime: containers", () => {
  it("starts any image at once with a distinct fake pid no real process can have", async () => {
    const { runtime } = setup();
    const a = await runtime.startContainer(spec());
    const b = await runtime.startContainer(spec({ containerName: "d", image: "nope/nope" }));
    expect(a.pid).toBeGreaterThanOrEqual(HOLLOW_PID_BASE);
    expect(b.pid).not.toBe(a.pid);
    expect(b.id).not.toBe(a.id);
    expect(runtime.status(a)).toEqual({ state: "running", startedAtMs: a.startedAtMs });
  });

  it("stays running while the clock moves: nothing exits on its own", async () => {
    const { runtime, clock } = setup();
    const handle = await runtime.startContainer(spec());
    const exits: ContainerExit[] = [];
    runtime.onExit(handle, (e) => exits.push(e));
    clock.advance(3_600_000);
    expect(exits).toEqual([]);
    expect(runtime.status(handle).state).toBe("running");
    expect(runtime.runningHandles()).toEqual([handle]);
  });

  it("stops at once: exit 0 after a grace period (SIGTERM obeyed), 137/SIGKILL without one", async () => {
    const { runtime } = setup();
    const graceful = await runtime.startContainer(spec());
    const killed = await runtime.startContainer(spec({ containerName: "k" }));
    const heard: ContainerExit[] = [];
    runtime.onExit(graceful, (e) => heard.push(e));
    expect(await runtime.stopContainer(graceful, 30_000)).toMatchObject({
      exitCode: 0,
      signal: null,
    });
    expect(heard).toHaveLength(1);
    expect(await runtime.stopContainer(killed, 0)).toMatchObject({
      exitCode: 137,
      signal: "SIGKILL",
    });
    expect(runtime.status(killed)).toMatchObject({ state: "exited", exitCode: 137 });
    // stopping again, or listening after the exit, answers with the same exit at once
    expect(await runtime.stopContainer(graceful, 30_000)).toBe(heard[0]);
    const late: ContainerExit[] = [];
    runtime.onExit(graceful, (e) => late.push(e));
    expect(late).toEqual(heard);
    expect(runtime.runningHandles()).toEqual([]);
  });

  it("removePod stops what runs and forgets the pod: a forgotten container reads as killed", async () => {
    const { runtime } = setup();
    const handle = await runtime.startContainer(spec());
    await runtime.removePod("uid-1");
    expect(runtime.status(handle)).toMatchObject({ state: "exited", signal: "SIGKILL" });
    await expect(runtime.logs("uid-1", "c", {})).rejects.toThrow(/has no logs/);
  });
});

describe("hollow runtime: logs", () => {
  it("has a start line per attempt and a stop line; previous is the attempt before", async () => {
    const { runtime } = setup();
    const first = await runtime.startContainer(spec({ attempt: 0 }));
    await runtime.stopContainer(first, 1_000);
    await runtime.startContainer(spec({ attempt: 1 }));
    const current = await runtime.logs("uid-1", "c", {});
    expect(current.text).toMatch(/started on hollow-0001 .*attempt 1\)\n$/);
    const previous = await runtime.logs("uid-1", "c", { previous: true });
    expect(previous.text.split("\n").filter(Boolean)).toEqual([
      expect.stringContaining("attempt 0"),
      expect.stringContaining("stopped (exit 0)"),
    ]);
  });

  it("reads from a byte offset, so a follower resumes where it stopped", async () => {
    const { runtime } = setup();
    const handle = await runtime.startContainer(spec({ podName: "pöd" }));
    const first = await runtime.logs("uid-1", "c", {});
    expect(first.nextByte).toBe(Buffer.byteLength(first.text));
    await runtime.stopContainer(handle, 0);
    const rest = await runtime.logs("uid-1", "c", { sinceByte: first.nextByte });
    expect(rest.text).toBe("hollow container c stopped (exit 137)\n");
  });

  it("keeps only the current and the previous attempt", async () => {
    const { runtime } = setup();
    for (let attempt = 0; attempt < 5; attempt++) {
      const h = await runtime.startContainer(spec({ attempt }));
      await runtime.stopContainer(h, 0);
    }
    expect((await runtime.logs("uid-1", "c", { previous: true })).text).toContain("attempt 3");
    expect((await runtime.logs("uid-1", "c", {})).text).toContain("attempt 4");
    // a follower names the attempt it started on
    expect((await runtime.logs("uid-1", "c", { attempt: 3 })).text).toContain("attempt 3");
    await expect(runtime.logs("uid-1", "c", { attempt: 1 })).rejects.toThrow(/has no logs/);
  });

  it("fails clearly for a container with no logs or no previous attempt", async () => {
    const { runtime } = setup();
    await runtime.startContainer(spec());
    await expect(runtime.logs("uid-1", "other", {})).rejects.toThrow(/has no logs/);
    await expect(runtime.logs("uid-1", "c", { previous: true })).rejects.toThrow(
      /previous terminated container "c" not found/,
    );
  });
});

describe("hollow runtime: exec and probes", () => {
  const target = (handle: ProbeTarget["handle"]): ProbeTarget => ({
    handle,
    podIP: "127.250.0.2", // nothing listens there
    namedPorts: { http: 8080 },
  });

  it("exec exits 0 while the container runs, 1 once it has stopped", async () => {
    const { runtime } = setup();
    const handle = await runtime.startContainer(spec());
    expect(await runtime.exec(handle, ["cat", "/tmp/healthy"], 1_000)).toBe(0);
    await runtime.stopContainer(handle, 0);
    expect(await runtime.exec(handle, ["cat", "/tmp/healthy"], 1_000)).toBe(1);
  });

  it("every probe kind succeeds for a running container without dialling its pod IP", async () => {
    const { runtime } = setup();
    const probes = new HollowProbeRunner(runtime);
    const handle = await runtime.startContainer(spec());
    const kinds: JsonObject[] = [
      { exec: { command: ["true"] } },
      { httpGet: { path: "/healthz", port: "http" } },
      { tcpSocket: { port: 8080 } },
    ];
    for (const probe of kinds) expect(await probes.run(probe, target(handle), 1_000)).toBe(true);
    await runtime.stopContainer(handle, 0);
    expect(await probes.run({ tcpSocket: { port: 8080 } }, target(handle), 1_000)).toBe(false);
  });
});

describe("hollow runtime under the pod statechart", () => {
  const flush = async () => {
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
  };

  it("a pod with an httpGet readiness probe goes Running, then Ready; deleting it ends it", async () => {
    const { runtime, clock } = setup();
    const statuses: JsonObject[] = [];
    const pod: JsonObject = {
      metadata: { name: "web", namespace: "default", uid: "u-web" },
      spec: {
        containers: [
          {
            name: "nginx",
            image: "nginx:1.25",
            readinessProbe: { httpGet: { path: "/", port: 80 }, periodSeconds: 1 },
          },
        ],
      },
    };
    const actor = createActor(podLifecycleMachine, {
      clock,
      input: {
        pod,
        deps: {
          runtime,
          probes: new HollowProbeRunner(runtime),
          clock,
          limits: DEFAULT_KUBELET_LIMITS,
          nodeName: "hollow-0001",
          hostIP: "127.250.1.1",
          prepare: async () => ({ podIP: "127.250.1.2", volumes: {} }),
          report: (s) => statuses.push(s),
        },
      },
    }).start();
    const ready = () =>
      ((statuses.at(-1)?.conditions ?? []) as { type: string; status: string }[]).find(
        (c) => c.type === "Ready",
      )?.status;
    await flush();
    expect(statuses.at(-1)?.phase).toBe("Running");
    expect(ready()).toBe("False");
    clock.advance(1_000);
    await flush();
    expect(ready()).toBe("True");

    actor.send({ type: "pod.deleted", gracePeriodMs: 30_000 });
    await flush();
    expect(actor.getSnapshot().status).toBe("done");
    expect(runtime.runningHandles()).toEqual([]);
  });
});
