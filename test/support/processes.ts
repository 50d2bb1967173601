import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { readProcStat } from "../../actors/kubelet/process-identity.ts";
import { BOSUN_TS, isBosunNode } from "../../cmd/launcher.ts";
import { waitFor } from "./wait.ts";

/**
 * Runs `bosun ARGS` to completion and returns its output and exit code: the sources through tsx,
 * or the program `entry` names (a bundle of them).
 */
export function runBosun(
  args: string[],
  env: Record<string, string> = {},
  entry: string[] = ["--import", "tsx", BOSUN_TS],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
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

/** A live process that belongs to a directory (a cluster's run dir, a test run's temp root). */
export interface ProcessUnder {
  pid: number;
  /** What ties it to the directory. */
  by: "cmdline" | "cwd" | "environ";
  cmdline: string;
  cwd: string;
}

function within(path: string, dir: string): boolean {
  // a process may sit in a directory deleted under it (a purged run dir)
  const p = path.endsWith(" (deleted)") ? path.slice(0, -" (deleted)".length) : path;
  return p === dir || p.startsWith(`${dir}/`);
}

/**
 * Every live process but this one whose command line names `dir` (a node: `--data-dir …`), or
 * whose working directory is inside it (a pod: its container dir), or — with `environ` — one
 * of whose environment variables is a path inside it (a pod's HOME, even after a `cd`).
 * Zombies are dead: they are not listed.
 */
export function processesUnder(dir: string, options: { environ?: boolean } = {}): ProcessUnder[] {
  const found: ProcessUnder[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    let cmdline = "";
    let cwd = "";
    let environ: string[] = [];
    try {
      const state = readProcStat(pid)?.state;
      if (state === undefined || state === "Z" || state === "X") continue;
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (options.environ) environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
    } catch {
      continue; // exited meanwhile, or not ours to look at
    }
    const by = cmdline.includes(dir)
      ? "cmdline"
      : within(cwd, dir)
        ? "cwd"
        : environ.some((v) => within(v.slice(v.indexOf("=") + 1), dir))
          ? "environ"
          : null;
    if (by !== null) found.push({ pid, by, cmdline: cmdline.split("\0").join(" ").trim(), cwd });
  }
  return found;
}

/**
 * SIGKILLs every process whose command line names `dir` or whose working directory is inside
 * it: nodes, and the pods a SIGKILLed node's kubelet could not stop.
 */
export function killProcessesUnder(dir: string): number {
  let killed = 0;
  for (const { pid } of processesUnder(dir)) {
    try {
      process.kill(pid, "SIGKILL");
      killed++;
    } catch {
      // already gone
    }
  }
  return killed;
}

/**
 * The check after a multi-process test: no process of the cluster in `dir` (nodes, pods,
 * probes) is left. Processes still on their way out get `waitMs` to finish exiting; any still
 * there are SIGKILLed — so a red check leaves nothing behind either — and named in the error.
 */
export async function expectNoProcessesUnder(dir: string, waitMs = 10_000): Promise<void> {
  try {
    await waitFor(
      `no process of ${dir} left`,
      () => processesUnder(dir, { environ: true }).length === 0,
      waitMs,
    );
  } catch {
    const survivors = processesUnder(dir, { environ: true });
    for (const { pid } of survivors) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    if (survivors.length === 0) return;
    const list = survivors
      .map((p) => `  pid ${p.pid} (by ${p.by}; cwd ${p.cwd}): ${p.cmdline}`)
      .join("\n");
    throw new Error(`${survivors.length} process(es) of ${dir} outlived the test:\n${list}`);
  }
}
