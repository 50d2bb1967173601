/**
 * The local cluster a chaos run starts, breaks and stops: `bosun up`'s plan and launcher, in a
 * run dir of its own. It remembers every pid it started, so that on any exit — normal, error or
 * Ctrl-C — it kills exactly those processes and nothing else; and then the pods their kubelets
 * recorded in the run dir, which a killed node leaves running (each proven by its start time).
 */
import { writeFileSync } from "node:fs";
import { type Clock, sleep } from "../../actors/system/clock.ts";
import { type ClusterFile, type ClusterNode, writeClusterFile } from "../cluster-file.ts";
import { isBosunNode, restartNode, spawnNode, stopNode, tokenFile } from "../launcher.ts";
import { isReady } from "../node-client.ts";
import {
  findPodProcesses,
  killPodProcesses,
  nodeDataDirs,
  stopLeftoverPods,
} from "../pod-processes.ts";
import { writeApiCredentials } from "../up.ts";

const READY_POLL_MS = 50;
const STOP_GRACE_MS = 5_000;

export class ClusterUnderTest {
  /** Every pid this run started, restarted nodes included. */
  private readonly started = new Set<number>();
  private readonly paused = new Set<number>();

  constructor(
    readonly cluster: ClusterFile,
    readonly runDir: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Starts every node of `cluster` (a fresh plan) in `runDir`. With `api`, first the cluster's
   * credentials as `bosun up` writes them, without which the nodes serve no Kubernetes API (and
   * so run no controller manager, scheduler or Leases).
   */
  start(options: { api?: boolean } = {}): void {
    if (options.api) writeApiCredentials(this.runDir, this.cluster, this.clock.wallMs());
    writeClusterFile(this.runDir, this.cluster);
    writeFileSync(tokenFile(this.runDir), `${this.cluster.token}\n`, { mode: 0o600 });
    for (const node of this.cluster.nodes) {
      node.pid = spawnNode(this.cluster, node, this.runDir, true).pid ?? null;
      if (node.pid !== null) this.started.add(node.pid);
    }
    writeClusterFile(this.runDir, this.cluster);
  }

  /** Waits until every node is meshed (`/readyz`). */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = this.clock.nowMs() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.cluster.nodes.map((n) => isReady(n)));
      if (states.every((s) => s.ready)) return;
      if (this.clock.nowMs() >= deadline) {
        const detail = this.cluster.nodes
          .map((n, i) => `${n.id}: ${states[i]?.reason ?? "?"}`)
          .join("; ");
        throw new Error(`cluster not ready after ${timeoutMs} ms (${detail})`);
      }
      await sleep(this.clock, READY_POLL_MS);
    }
  }

  node(id: string): ClusterNode {
    const node = this.cluster.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  ids(): string[] {
    return this.cluster.nodes.map((n) => n.id);
  }

  /** Members whose process runs and is not paused. */
  liveIds(): string[] {
    return this.cluster.nodes
      .filter((n) => n.pid !== null && !this.paused.has(n.pid) && isBosunNode(n.pid))
      .map((n) => n.id);
  }

  /** Sends `signal` to a node this run started (SIGKILL, SIGSTOP, SIGCONT). */
  signal(id: string, signal: "SIGKILL" | "SIGSTOP" | "SIGCONT"): number {
    const pid = this.node(id).pid;
    if (pid === null || !this.started.has(pid) || !isBosunNode(pid)) {
      throw new Error(`${id} is not running (pid ${pid})`);
    }
    process.kill(pid, signal);
    if (signal === "SIGSTOP") this.paused.add(pid);
    if (signal === "SIGCONT") this.paused.delete(pid);
    return pid;
  }

  /** Waits for a killed node's process to be gone, then starts it again on the same data. */
  async restart(id: string, timeoutMs: number): Promise<void> {
    const pid = this.node(id).pid;
    const deadline = this.clock.nowMs() + timeoutMs;
    while (pid !== null && isBosunNode(pid)) {
      if (this.clock.nowMs() >= deadline) throw new Error(`${id} (pid ${pid}) did not exit`);
      await sleep(this.clock, READY_POLL_MS);
    }
    const node = restartNode(this.cluster, id, this.runDir);
    if (node.pid !== null) this.started.add(node.pid);
  }

  /**
   * Stops every node this run started (paused ones are resumed first so they can exit), then
   * the pods still running: those of a killed node, and any a stopping kubelet left.
   */
  async stop(): Promise<void> {
    for (const pid of this.paused) if (isBosunNode(pid)) process.kill(pid, "SIGCONT");
    this.paused.clear();
    await Promise.all([...this.started].map((pid) => stopNode(this.clock, pid, STOP_GRACE_MS)));
    for (const node of this.cluster.nodes) node.pid = null;
    writeClusterFile(this.runDir, this.cluster);
    await stopLeftoverPods(this.clock, nodeDataDirs(this.runDir, this.cluster), STOP_GRACE_MS);
  }

  /**
   * Last resort (Ctrl-C, a crash): SIGKILL every process this run started, then every pod
   * process, synchronously (nodes first: a live kubelet would start its pods again).
   */
  killAll(): void {
    for (const pid of this.started) {
      if (isBosunNode(pid)) process.kill(pid, "SIGKILL");
    }
    killPodProcesses(findPodProcesses(nodeDataDirs(this.runDir, this.cluster)));
  }
}
