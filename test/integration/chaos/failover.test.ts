import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChaosReport } from "../../../cmd/chaos/report.ts";
import { readClusterFile } from "../../../cmd/cluster-file.ts";
import { BOSUN_TS } from "../../../cmd/launcher.ts";
import { exited, expectNoProcessesUnder, killAll } from "../../support/processes.ts";

/**
 * `bosun chaos failover` end to end, as a user runs it: a child process that starts its own
 * cluster, kills (or pauses) the leader round after round, and checks the client history.
 * Whatever happens, afterEach stops the command and every node it started (by pid), and fails
 * the test if any process of the run's cluster is still alive.
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
      // the command stopped its nodes and their pods: nothing of its cluster is left
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

async function chaos(
  args: string[],
): Promise<{ code: number | null; out: string; report: ChaosReport }> {
  runDir = mkdtempSync(join(tmpdir(), "bosun-chaos-test-"));
  const jsonFile = join(runDir, "report.json");
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      BOSUN_TS,
      "chaos",
      "failover",
      "--run-dir",
      join(runDir, "cluster"),
      "--json",
      jsonFile,
      ...args,
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
  await exited(proc);
  let report: ChaosReport;
  try {
    report = JSON.parse(readFileSync(jsonFile, "utf8")) as ChaosReport;
  } catch (error) {
    throw new Error(`no report (exit ${proc.exitCode}, ${(error as Error).message}):\n${out}`);
  }
  return { code: proc.exitCode, out, report };
}

function expectCleanHistory(report: ChaosReport): void {
  expect(report.verdict.linearizable).toBe(true);
  expect(report.verdict.anomalies).toEqual({
    lost: 0,
    duplicated: 0,
    phantom: 0,
    revisionMismatch: 0,
  });
  expect(report.totals.ackedPuts).toBeGreaterThan(0);
  expect(report.ok).toBe(true);
}

describe("bosun chaos failover", () => {
  it("kills the leader three times: a new leader each time, no lost or duplicated writes", async () => {
    const { code, out, report } = await chaos(["--rounds", "3", "--fault", "kill"]);
    expect(code, out).toBe(0);
    expect(report.rounds).toHaveLength(3);
    for (const round of report.rounds) {
      expect(round.error, out).toBeUndefined();
      expect(round.fault).toBe("kill");
      expect(round.newLeader).not.toBeNull();
      expect(round.newLeader).not.toBe(round.oldLeader);
      expect(round.newTerm).toBeGreaterThan(round.oldTerm);
      expect(round.timeToNewLeaderMs).toBeGreaterThan(0);
      expect(round.timeToFirstAckedWriteMs).toBeGreaterThan(0);
    }
    expectCleanHistory(report);
    expect(out).toContain("linearizable: yes");
  });

  it("pauses the leader (SIGSTOP) and resumes it: the cluster moves on and takes it back", async () => {
    const { code, out, report } = await chaos(["--rounds", "1", "--fault", "pause"]);
    expect(code, out).toBe(0);
    expect(report.rounds).toHaveLength(1);
    const [round] = report.rounds;
    expect(round?.fault).toBe("pause");
    expect(round?.newLeader).not.toBe(round?.oldLeader);
    expect(round?.restoredAfterMs).not.toBeNull();
    expectCleanHistory(report);
  });
});
