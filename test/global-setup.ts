import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killProcessesUnder } from "./support/processes.ts";

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
  const killed = killProcessesUnder(root);
  // each multi-process test checks its own cluster; this names what slipped through anyway
  if (killed > 0) console.error(`global teardown: killed ${killed} process(es) left under ${root}`);
  // BOSUN_KEEP_RUN_DIR=1 keeps the clusters' logs and data (local-cluster.ts) to look into
  if (process.env.BOSUN_KEEP_RUN_DIR) console.log(`kept the test run's files in ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
