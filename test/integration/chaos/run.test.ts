import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkHistoryFile } from "../../../cmd/chaos/history-export.ts";
import type { ScenarioReport } from "../../../cmd/chaos/scenario-report.ts";
import { readClusterFile } from "../../../cmd/cluster-file.ts";
import { BOSUN_TS } from "../../../cmd/launcher.ts";
import { exited, expectNoProcessesUnder, killAll, runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * `bosun chaos run` end to end, as a user runs it: a child process starts its own cluster (fault
 * rules on), opens one fault window of the scenario, heals it, waits for recovery and checks the
 * history. afterEach stops the command and every node it started (by pid), fails the test if any
 * process of the run's cluster is left, and removes the temp dir. Times are reported, never
 * asserted.
 */
let child: ChildProcess | null = null;
let runDir: string | null = null;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM"); // the command kills its own nodes on SIGTERM
    await exited(child);
  }
  child = null;
  if (runDir) {
    const dir = runDir;
    runDir = null;
    try {
      await expectNoProcessesUnder(dir);
    } finally {
      try {
        await killAll(readClusterFile(join(dir, "cluster")).nodes.map((n) => n.pid));
      } catch {
        // no cluster file: nothing was started
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

async function chaosRun(
  scenario: string,
  whileRunning?: (out: () => string, dir: string) => Promise<void>,
): Promise<{ code: number | null; out: string; report: ScenarioReport; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bosun-chaos-run-test-"));
  runDir = dir;
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      BOSUN_TS,
      "chaos",
      "run",
      "--scenario",
      scenario,
      "--seed",
      "7",
      // one window: the first always opens, and the duration is spent by then
      "--duration",
      "1s",
      "--fault-ms",
      "1500",
      "--quiet-ms",
      "200",
      "--run-dir",
      join(dir, "cluster"),
      "--json",
      join(dir, "report.json"),
      "--history",
      join(dir, "history.json"),
      "--report",
      join(dir, "report.html"),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child = proc;
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const during = whileRunning?.(() => out, dir);
  await exited(proc);
  await during;
  let report: ScenarioReport;
  try {
    report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as ScenarioReport;
  } catch (error) {
    throw new Error(`no report (exit ${proc.exitCode}, ${(error as Error).message}):\n${out}`);
  }
  return { code: proc.exitCode, out, report, dir };
}

function expectPassingRun(r: {
  code: number | null;
  out: string;
  report: ScenarioReport;
  dir: string;
}) {
  const { code, out, report, dir } = r;
  expect(code, out).toBe(0);
  expect(report.ok, out).toBe(true);
  expect(report.windows.length).toBeGreaterThanOrEqual(1);
  for (const w of report.windows) {
    expect(w.error, out).toBeUndefined();
    expect(w.recoveredMs).not.toBeNull();
  }
  expect(report.verdicts.linearizable).toBe(true);
  expect(report.verdicts.anomalies).toEqual({
    lost: 0,
    duplicated: 0,
    phantom: 0,
    revisionMismatch: 0,
  });
  expect(report.totals.ackedPuts).toBeGreaterThan(0);
  expect(report.timeline.length).toBeGreaterThan(0);
  // the exported history, read back, passes the same checks on its own
  const { verdict, comparedWithStore } = checkHistoryFile(
    JSON.parse(readFileSync(join(dir, "history.json"), "utf8")),
  );
  expect(comparedWithStore).toBe(true);
  expect(verdict.linearizability.linearizable).toBe(true);
  expect(verdict.lost).toEqual([]);
  expect(verdict.duplicated).toEqual([]);
  expect(existsSync(join(dir, "report.html"))).toBe(true);
  // Kubernetes level: acknowledged API writes reflected, no pod on two nodes, Deployment converged
  const api = report.verdicts.api;
  expect(api?.configMaps.checked, out).toBeGreaterThan(0);
  expect(api?.configMaps.anomalies).toEqual([]);
  expect(api?.pods.rebound).toEqual([]);
  expect(api?.deployment.converged, out).toBe(true);
}

describe("bosun chaos run", () => {
  it("partition-leader: the isolated leader is replaced, the cluster heals, the history is clean", async () => {
    let chart = "";
    const run = await chaosRun("partition-leader", async (out, dir) => {
      // the fault windows' statechart, asked through n1 over the mesh while the run goes on
      const line = await waitFor(
        "the inspect hint",
        () => /bosun inspect (client-[0-9a-f]+\/chaos-nemesis)/.exec(out()) ?? undefined,
        90_000,
      );
      const inspect = await runBosun([
        "inspect",
        line[1]!,
        "--via",
        "n1",
        "--run-dir",
        join(dir, "cluster"),
        "--format",
        "json",
      ]);
      chart = inspect.stdout;
    });
    expectPassingRun(run);
    expect(chart, run.out).toContain('"chaos-nemesis"');
    expect(chart).toContain("recordTargets");
    const [w] = run.report.windows;
    expect(w?.nemesis).toBe("isolate");
    expect(w?.targets).toEqual([w?.leaderBefore]);
  });

  it("partition-leader-iptables: the leader's packets are dropped by the run's own chain, which is gone after", async () => {
    const chainRules = (pid: number | undefined) => {
      const listed = spawnSync("iptables", ["-w", "-S"], { encoding: "utf8" });
      if (listed.status !== 0) return null; // no iptables here: the nemesis uses fault rules
      return listed.stdout.split("\n").filter((l) => l.includes(`BOSUN-CHAOS-${pid}`));
    };
    let drops: string[] | null = null;
    let pid: number | undefined;
    const run = await chaosRun("partition-leader-iptables", async (out) => {
      pid = child?.pid;
      await waitFor(
        "the fault window's end",
        () => {
          const rules = chainRules(pid);
          if (rules === null) return true;
          const dropping = rules.filter((r) => r.includes("-j DROP"));
          // rules go in one at a time: keep the fullest set seen until the window ends
          if (dropping.length > (drops?.length ?? 0)) drops = dropping;
          return /window 1:/.test(out());
        },
        110_000,
        20,
      );
    });
    expectPassingRun(run);
    const [w] = run.report.windows;
    expect(w?.targets).toEqual([w?.leaderBefore]);
    const after = chainRules(pid);
    if (after === null) {
      expect(w?.description).toContain("fault rules: no iptables");
      return;
    }
    expect(w?.description).toContain("iptables cut");
    // the victim cut from both others, both ways
    expect(drops, run.out).toHaveLength(4);
    expect(after).toEqual([]);
  });

  it("kill-scheduler: the kube-scheduler Lease holder is killed -9 and restarted; the history is clean", async () => {
    const run = await chaosRun("kill-scheduler");
    expectPassingRun(run);
    const [w] = run.report.windows;
    expect(w?.nemesis).toBe("kill");
    expect(w?.description).toContain("kube-scheduler Lease holder");
    expect(w?.targets).toHaveLength(1);
  });
});
