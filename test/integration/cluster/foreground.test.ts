import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { readClusterFile } from "../../../cmd/cluster-file.ts";
import { BOSUN_TS, isBosunNode } from "../../../cmd/launcher.ts";
import { randomLoopbackBase } from "../../support/loopback.ts";
import { exited, killAll } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/** What `npm start` runs: `bosun up --foreground`, stopped with Ctrl-C (SIGINT). */
const runDir = mkdtempSync(join(tmpdir(), "bosun-fg-"));
let pids: (number | null)[] = [];

afterAll(async () => {
  await killAll(pids);
  rmSync(runDir, { recursive: true, force: true });
});

it("up --foreground brings the mesh up, shows progress, and Ctrl-C stops every node", async () => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", BOSUN_TS, "up", "--foreground", "--base-ip", randomLoopbackBase(3)],
    { env: { ...process.env, BOSUN_RUN_DIR: runDir }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  try {
    await waitFor(
      "the cluster to be up",
      () => out.includes("Ctrl-C stops the cluster"),
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${out}`);
    });
    pids = readClusterFile(runDir).nodes.map((n) => n.pid);
    expect(pids.every((pid) => pid !== null && isBosunNode(pid))).toBe(true);
    expect(out).toMatch(/\[3\/3 ready\]/);
    expect(out).toContain("3/3 nodes up");
    child.kill("SIGINT");
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(out).toContain("stopped");
    expect(pids.every((pid) => pid !== null && !isBosunNode(pid))).toBe(true);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    // the nodes outlive a killed `up`: find them through the cluster file to clean them up
    try {
      pids = readClusterFile(runDir).nodes.map((n) => n.pid);
    } catch {
      // no cluster file: no nodes were started
    }
  }
});
