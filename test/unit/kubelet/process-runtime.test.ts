/**
 * The process runtime with real processes under a ManualClock: a container is its own process
 * group with the pod env and cwd; stopping sends SIGTERM, and SIGKILL only when the grace
 * period (on the injected clock) runs out; logs keep the current and the previous attempt.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import {
  isGroupAlive,
  killGroup,
  ProcessRuntime,
} from "../../../actors/kubelet/process-runtime.ts";
import { type ContainerSpec, ImagePullError } from "../../../actors/kubelet/runtime.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";

const root = mkdtempSync(join(tmpdir(), "bosun-runtime-"));
const clock = new ManualClock();
const runtime = new ProcessRuntime({ rootDir: root, clock, logger: pino({ level: "silent" }) });
const pids: number[] = [];

const spec = (args: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  podUid: "uid-1",
  podName: "p",
  podNamespace: "default",
  containerName: "c",
  image: "busybox",
  command: [],
  args,
  env: { POD_NAME: "p", POD_IP: "127.200.0.9" },
  volumeMounts: [],
  ports: [],
  attempt: 0,
  ...extra,
});

afterAll(() => {
  for (const pid of pids) killGroup(pid, "SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("process runtime", () => {
  it("rejects an image outside the catalog with ImagePullError", async () => {
    await expect(runtime.startContainer(spec([], { image: "nope/nope" }))).rejects.toBeInstanceOf(
      ImagePullError,
    );
  });

  it("runs the container with its env in its own cwd and logs stdout", async () => {
    const handle = await runtime.startContainer(spec(["echo $POD_NAME $POD_IP; pwd"]));
    pids.push(handle.pid);
    const exit = await new Promise((resolve) => runtime.onExit(handle, resolve));
    expect(exit).toMatchObject({ exitCode: 0 });
    const { text } = await runtime.logs("uid-1", "c", {});
    expect(text).toContain("p 127.200.0.9");
    expect(text).toContain(join(root, "pods", "uid-1", "c"));
  });

  it("stop: SIGTERM first; SIGKILL only after the grace period", async () => {
    const handle = await runtime.startContainer(
      spec(["trap '' TERM; echo ready; while true; do sleep 0.05; done"], { attempt: 1 }),
    );
    pids.push(handle.pid);
    await waitFor("the trap", async () =>
      (await runtime.logs("uid-1", "c", {})).text.includes("ready"),
    );
    let exited = false;
    const stopped = runtime.stopContainer(handle, 30_000).then((e) => {
      exited = true;
      return e;
    });
    // SIGTERM is ignored: the group lives on while the (manual) grace period has not run out
    await new Promise<void>((r) => setImmediate(r));
    expect(isGroupAlive(handle.pid)).toBe(true);
    expect(exited).toBe(false);
    clock.advance(30_000);
    const exit = await stopped;
    expect(exit.signal).toBe("SIGKILL");
    expect(exit.exitCode).toBe(137);
    await waitFor("the group to be gone", () => !isGroupAlive(handle.pid));
    expect((await runtime.logs("uid-1", "c", { previous: true })).text).toContain("127.200.0.9");
  });
});
