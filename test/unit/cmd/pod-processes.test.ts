/**
 * How `bosun down` (and `status`, `member remove`, the chaos harness) finds and stops the pod
 * processes a cluster's kubelets recorded, against a fake process table on simulated time:
 * only a pid that is still the recorded process is signalled; SIGTERM first, SIGKILL to what is
 * left of a container (its main process or the rest of its group) once the grace period ends.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type PidRecord, pidFilePath } from "../../../actors/kubelet/pid-records.ts";
import type { ProcStat } from "../../../actors/kubelet/process-identity.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { ClusterFile } from "../../../cmd/cluster-file.ts";
import {
  findPodProcesses,
  kubeletRootDir,
  nodeDataDirs,
  type PodProcess,
  type ProcessTable,
  stopPodProcesses,
} from "../../../cmd/pod-processes.ts";

const root = mkdtempSync(join(tmpdir(), "bosun-pod-processes-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BOOT = "boot-a";

interface FakeProcess {
  stat: ProcStat;
  /** What it does on SIGTERM: exit, or carry on. */
  onTerm: "exit" | "ignore";
  /** Survives SIGKILL too (uninterruptible sleep). */
  stuck?: boolean;
}

/** A process table with signals that act at once; `signals` lists what was sent to whom. */
class FakeProcesses implements ProcessTable {
  readonly procs = new Map<number, FakeProcess>();
  readonly signals: string[] = [];

  add(pid: number, startTime: string, onTerm: "exit" | "ignore", pgid = pid): void {
    this.procs.set(pid, { stat: { state: "S", pgid, startTime }, onTerm });
  }

  stat(pid: number): ProcStat | null {
    return this.procs.get(pid)?.stat ?? null;
  }

  bootId(): string | null {
    return BOOT;
  }

  liveGroups(): Set<number> {
    return new Set([...this.procs.values()].map((p) => p.stat.pgid));
  }

  killGroup(pgid: number, signal: NodeJS.Signals): void {
    this.signals.push(`${signal} -${pgid}`);
    for (const [pid, p] of this.procs) {
      if (p.stat.pgid !== pgid) continue;
      if ((signal === "SIGTERM" && p.onTerm === "exit") || (signal === "SIGKILL" && !p.stuck))
        this.procs.delete(pid);
    }
  }
}

function record(podUid: string, pid: number, procStart: string): PidRecord {
  return {
    id: `${podUid}/web/${pid}.${procStart}`,
    podUid,
    containerName: "web",
    attempt: 0,
    pid,
    procStart,
    bootId: BOOT,
    startedAtMs: 1,
    podIP: null,
    image: "bosun/echo",
    argv: ["node", "echo.mjs"],
  };
}

function writeRecord(dataDir: string, r: PidRecord): void {
  const path = pidFilePath(kubeletRootDir(dataDir), r.podUid, r.containerName);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(r));
}

/** Runs `stopPodProcesses` to its end on simulated time. */
async function stopOnManualClock(
  pods: PodProcess[],
  table: ProcessTable,
  graceMs: number,
): Promise<Awaited<ReturnType<typeof stopPodProcesses>> & { elapsedMs: number }> {
  const clock = new ManualClock();
  let result: Awaited<ReturnType<typeof stopPodProcesses>> | undefined;
  const done = stopPodProcesses(clock, pods, graceMs, table).then((r) => {
    result = r;
  });
  for (let i = 0; i < 10_000; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (result !== undefined) break;
    clock.advance(50);
  }
  await done;
  return { ...result!, elapsedMs: clock.nowMs() };
}

const pod = (nodeId: string, r: PidRecord): PodProcess => ({ nodeId, record: r });

describe("findPodProcesses", () => {
  it("finds the recorded processes that are still the ones started; a recycled pid is not one", () => {
    const n1 = join(root, "find", "data", "n1");
    const n2 = join(root, "find", "data", "n2");
    const table = new FakeProcesses();
    writeRecord(n1, record("uid-live", 100, "500"));
    table.add(100, "500", "exit");
    writeRecord(n1, record("uid-gone", 101, "501")); // exited while no kubelet watched
    writeRecord(n2, record("uid-reused", 200, "600"));
    table.add(200, "9999", "exit"); // the pid now names another process
    writeRecord(n2, record("uid-group", 201, "601"));
    table.add(201, "601", "exit", 1); // the pid's start time matches, but it leads no group of its own

    const found = findPodProcesses(
      [
        { nodeId: "n1", dataDir: n1 },
        { nodeId: "n2", dataDir: n2 },
      ],
      table,
    );
    expect(found.map((p) => `${p.nodeId}:${p.record.podUid}`)).toEqual(["n1:uid-live"]);
  });
});

describe("nodeDataDirs", () => {
  it("lists the cluster file's nodes and the data dir a removed member left behind", () => {
    const runDir = join(root, "dirs");
    for (const id of ["n1", "n2", "n4"]) mkdirSync(join(runDir, "data", id), { recursive: true });
    const node = (id: string) => ({
      id,
      host: "127.0.0.1",
      port: 7100,
      pid: null,
      logFile: join(runDir, "logs", `${id}.log`),
      dataDir: join(runDir, "data", id),
    });
    const cluster: ClusterFile = {
      name: "t",
      token: "x",
      faults: false,
      nodes: [node("n1"), node("n2"), node("n3")],
    };
    expect(nodeDataDirs(runDir, cluster).map((d) => d.nodeId)).toEqual(["n1", "n2", "n3", "n4"]);
  });
});

describe("stopPodProcesses", () => {
  it("SIGTERM first: a pod that exits on it is never SIGKILLed", async () => {
    const table = new FakeProcesses();
    table.add(100, "500", "exit");
    const out = await stopOnManualClock([pod("n1", record("a", 100, "500"))], table, 10_000);
    expect(table.signals).toEqual(["SIGTERM -100"]);
    expect(out.stopped.map((p) => p.record.pid)).toEqual([100]);
    expect(out.killed).toEqual([]);
    expect(out.elapsedMs).toBeLessThan(10_000);
  });

  it("SIGKILL once the grace period ends, to a pod that ignores SIGTERM", async () => {
    const table = new FakeProcesses();
    table.add(100, "500", "exit");
    table.add(200, "600", "ignore");
    const pods = [pod("n1", record("a", 100, "500")), pod("n2", record("b", 200, "600"))];
    const out = await stopOnManualClock(pods, table, 3_000);
    expect(out.stopped.map((p) => p.record.pid)).toEqual([100]);
    expect(out.killed.map((p) => p.record.pid)).toEqual([200]);
    expect(out.survivors).toEqual([]);
    expect(table.signals).toEqual(["SIGTERM -100", "SIGTERM -200", "SIGKILL -200"]);
    expect(out.elapsedMs).toBeGreaterThanOrEqual(3_000);
  });

  it("what is left of a container's group after its main process exits is killed with it", async () => {
    const table = new FakeProcesses();
    table.add(100, "500", "exit");
    table.add(105, "510", "ignore", 100); // a child of the container, deaf to SIGTERM
    const out = await stopOnManualClock([pod("n1", record("a", 100, "500"))], table, 1_000);
    expect(out.killed.map((p) => p.record.pid)).toEqual([100]);
    expect(table.signals).toEqual(["SIGTERM -100", "SIGKILL -100"]);
    expect(table.procs.size).toBe(0);
  });

  it("a pid handed to another process during the grace period is not SIGKILLed", async () => {
    const table = new FakeProcesses();
    table.add(100, "500", "ignore");
    const stop = stopOnManualClock([pod("n1", record("a", 100, "500"))], table, 1_000);
    // the pod exits by itself, and the pid goes to a stranger with its own group
    table.procs.delete(100);
    table.add(100, "777", "ignore");
    const out = await stop;
    expect(out.stopped.map((p) => p.record.pid)).toEqual([100]);
    expect(table.signals).toEqual(["SIGTERM -100"]);
    expect(table.procs.has(100)).toBe(true);
  });

  it("a process that survives SIGKILL is reported, so that down keeps the run dir", async () => {
    const table = new FakeProcesses();
    table.add(100, "500", "ignore");
    const stuck = table.procs.get(100);
    if (stuck) stuck.stuck = true;
    const out = await stopOnManualClock([pod("n1", record("a", 100, "500"))], table, 1_000);
    expect(out.killed.map((p) => p.record.pid)).toEqual([100]);
    expect(out.survivors.map((p) => p.record.pid)).toEqual([100]);
  });

  it("nothing to stop: no signal, no wait", async () => {
    const table = new FakeProcesses();
    const out = await stopOnManualClock([], table, 10_000);
    expect(out).toMatchObject({ stopped: [], killed: [], survivors: [], elapsedMs: 0 });
    expect(table.signals).toEqual([]);
  });
});
