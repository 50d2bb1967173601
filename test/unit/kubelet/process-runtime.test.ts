/**
 * The process runtime with real processes under a ManualClock: a container is its own process
 * group with the pod env and cwd; stopping sends SIGTERM, and SIGKILL only when the grace
 * period (on the injected clock) runs out; logs keep the current and the previous attempt.
 * After a kubelet restart a new runtime re-adopts what provably is the container it started,
 * and leaves a recycled pid alone.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import type { PidRecord } from "../../../actors/kubelet/pid-records.ts";
import {
  isGroupAlive,
  isSameProcess,
  killGroup,
  readProcStat,
} from "../../../actors/kubelet/process-identity.ts";
import { ProcessRuntime } from "../../../actors/kubelet/process-runtime.ts";
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
  image: "bosun/sh",
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

/** Alive and not a zombie (an unreaped dead process still answers kill 0). */
const running = (pid: number) => {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
};

describe("process runtime: re-adoption after a kubelet restart", () => {
  const fresh = () =>
    new ProcessRuntime({
      rootDir: root,
      clock,
      logger: pino({ level: "silent" }),
      limits: { adoptedExitPollMs: 100 },
    });
  const ticking = (uid: string, attempt: number) =>
    spec(["while true; do echo tick; sleep 0.05; done"], {
      podUid: uid,
      attempt,
      podIP: "127.200.0.9",
    });

  it("adopts the container a previous runtime started: same id, pid and attempt; its log goes on in the same file; its exit is noticed by polling", async () => {
    const handle = await runtime.startContainer(ticking("uid-adopt", 3));
    pids.push(handle.pid);
    const restarted = fresh();
    const recovered = await restarted.recoverContainers();
    expect(recovered.podUids).toContain("uid-adopt");
    expect(recovered.containers).toContainEqual({
      podUid: "uid-adopt",
      containerName: "c",
      pid: handle.pid,
      podIP: "127.200.0.9",
    });
    const adopted = await restarted.adoptContainer(ticking("uid-adopt", 0));
    expect(adopted).toEqual({ handle, attempt: 3 });
    expect(await restarted.adoptContainer(ticking("uid-adopt", 0))).toBeNull(); // once only
    const before = await restarted.logs("uid-adopt", "c", { attempt: 3 });
    await waitFor(
      "the log to grow",
      async () =>
        (await restarted.logs("uid-adopt", "c", { attempt: 3 })).nextByte > before.nextByte,
    );
    expect(restarted.status(handle).state).toBe("running");

    const exits: { exitCode: number; signal: string | null; finishedAtMs: number }[] = [];
    restarted.onExit(handle, (e) => exits.push(e));
    killGroup(handle.pid, "SIGKILL");
    await waitFor("the process to die", () => !running(handle.pid));
    const diedBy = clock.wallMs();
    clock.advance(100);
    // noticed at the first poll after the death, stamped with the clock's time of that poll
    expect(exits).toHaveLength(1);
    const [exit] = exits;
    expect(exit).toMatchObject({ exitCode: 137, signal: null, statusUnknown: true });
    expect(exit?.finishedAtMs).toBeGreaterThanOrEqual(diedBy);
    expect(exit?.finishedAtMs).toBeLessThanOrEqual(clock.wallMs());
  });

  it("a recovered container whose pod is removed is killed with its files", async () => {
    const handle = await runtime.startContainer(ticking("uid-orphan", 0));
    pids.push(handle.pid);
    const restarted = fresh();
    await restarted.recoverContainers();
    await restarted.removePod("uid-orphan");
    await waitFor("the group to be gone", () => !running(handle.pid));
    expect((await fresh().recoverContainers()).podUids).not.toContain("uid-orphan");
  });

  it("a container whose pod now asks for something else is killed, not adopted", async () => {
    const handle = await runtime.startContainer(ticking("uid-changed", 0));
    pids.push(handle.pid);
    const restarted = fresh();
    await restarted.recoverContainers();
    const adoption = restarted.adoptContainer(spec(["sleep 100"], { podUid: "uid-changed" }));
    let settled: unknown;
    void adoption.then((a) => {
      settled = a;
    });
    // the kill is seen by the (manual-clock) exit poll
    await waitFor("the old container to be stopped", () => {
      clock.advance(100);
      return settled !== undefined;
    });
    expect(settled).toBeNull();
    expect(running(handle.pid)).toBe(false);
  });

  describe("a pid is trusted only when it is provably the process we started", () => {
    it("a recycled pid (another process, another start time) is neither adopted nor killed", async () => {
      // someone else's process now holds the pid the pid file names
      const stranger = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
      const pid = stranger.pid!;
      pids.push(pid);
      const stat = readProcStat(pid)!;
      const record: PidRecord = {
        id: "uid-reuse/c/1.1",
        podUid: "uid-reuse",
        containerName: "c",
        attempt: 0,
        pid,
        procStart: String(Number(stat.startTime) - 1000), // our container started earlier
        bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
        startedAtMs: 1,
        podIP: null,
        image: "busybox",
        argv: ["sleep", "30"],
      };
      const pidsDir = join(root, "pods", "uid-reuse", "pids");
      mkdirSync(pidsDir, { recursive: true });
      writeFileSync(join(pidsDir, "c.pid"), JSON.stringify(record));
      const restarted = fresh();
      const recovered = await restarted.recoverContainers();
      expect(recovered.containers.filter((c) => c.podUid === "uid-reuse")).toEqual([]);
      expect(
        await restarted.adoptContainer(spec(["sleep 30"], { podUid: "uid-reuse" })),
      ).toBeNull();
      await restarted.removePod("uid-reuse");
      expect(running(pid)).toBe(true); // not ours: left alone
      killGroup(pid, "SIGKILL");
    });

    it("isSameProcess: start time, boot, group leadership and liveness must all match", () => {
      const record = { pid: 100, procStart: "5000", bootId: "boot-a" };
      const alive = { state: "S", pgid: 100, startTime: "5000" };
      expect(isSameProcess(record, alive, "boot-a")).toBe(true);
      expect(isSameProcess(record, { ...alive, startTime: "5001" }, "boot-a")).toBe(false); // reused
      expect(isSameProcess(record, alive, "boot-b")).toBe(false); // rebooted: ticks start over
      expect(isSameProcess(record, { ...alive, pgid: 1 }, "boot-a")).toBe(false); // not its group
      expect(isSameProcess(record, { ...alive, state: "Z" }, "boot-a")).toBe(false); // dead
      expect(isSameProcess(record, null, "boot-a")).toBe(false); // gone
    });
  });
});
