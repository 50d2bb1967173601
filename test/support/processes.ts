import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { BOSUN_TS, isBosunNode } from "../../cmd/launcher.ts";
import { waitFor } from "./wait.ts";

/** Runs `bosun ARGS` to completion and returns its output and exit code. */
export function runBosun(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", BOSUN_TS, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Kills every pid given (that is still a bosun node) and waits until each is gone. */
export async function killAll(
  pids: (number | null | undefined)[],
  signal: NodeJS.Signals = "SIGKILL",
): Promise<void> {
  for (const pid of pids) {
    if (pid && isBosunNode(pid)) process.kill(pid, signal);
  }
  await waitFor("processes to exit", () => pids.every((p) => !p || !isBosunNode(p)), 15_000);
}

/** Resolves when the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * SIGKILLs every process whose command line names `dir` or whose working directory is inside
 * it: nodes, and the pods a SIGKILLed node's kubelet could not stop.
 */
export function killProcessesUnder(dir: string): number {
  let killed = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline = "";
    let cwd = "";
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue; // exited meanwhile, or not ours to look at
    }
    if (!cmdline.includes(dir) && !cwd.startsWith(dir)) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
      killed++;
    } catch {
      // already gone
    }
  }
  return killed;
}
