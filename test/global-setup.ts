import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Every file of a test run lives under one fresh temp root (TMPDIR is pointed there, and test
 * workers and the processes they spawn inherit it). At the end, any process still running from
 * that root — a node a failed test could not stop — is killed, and the root is removed, so a
 * red run leaves nothing behind on a shared machine.
 */
let root = "";

export function setup(): void {
  root = mkdtempSync(join(tmpdir(), "bosun-test-run-"));
  process.env.TMPDIR = root;
}

export function teardown(): void {
  if (!root) return;
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
    // nodes name the root in their flags; pods a killed node left behind run inside it
    if (!cmdline.includes(root) && !cwd.startsWith(root)) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
}
