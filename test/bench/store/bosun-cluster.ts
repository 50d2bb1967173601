/**
 * A 3-server bosun cluster on loopback for the store benchmark, started the way `bosun up` starts
 * one (a temp run dir, random loopback addresses, detached `bosun node` processes), and driven
 * through one client member (a ClientNode) in this process: every bench client is its own
 * StoreClient, so 64 clients are 64 sessions over the client member's one link per server.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { SystemClock } from "../../../actors/system/clock.ts";
import { ClientNode, meshCaOption } from "../../../cmd/client-node.ts";
import { type ClusterFile, type ClusterNode, writeClusterFile } from "../../../cmd/cluster-file.ts";
import { isBosunNode, restartNode, spawnNode, tokenFile } from "../../../cmd/launcher.ts";
import { getJson, isReady } from "../../../cmd/node-client.ts";
import { planCluster } from "../../../cmd/up.ts";
import type { StoreClient, WatchHandle } from "../../../raft/client/store-client.ts";
import { prefixRangeEnd } from "../../../raft/mvcc/key-range.ts";
import { randomLoopbackBase } from "../../support/loopback.ts";
import { waitFor } from "../../support/wait.ts";
import type { BenchCluster, BenchKv, ClientPolicy } from "./kv-bench-client.ts";

const clock = new SystemClock();
const STOP_TIMEOUT_MS = 15_000;
/** A follower counts as caught up when its applied index is this close to the leader's commit. */
const CAUGHT_UP_SLACK = 5;

/** `bosun up --tick-ms --election-ticks`; a field left out keeps bosun's default. */
export interface BosunTimings {
  tickMs?: number;
  electionTicks?: number;
}

interface NodeView {
  pid: number;
  raft: { role: string; leader: string | null; term: number; commit: number; applied: number };
}

class BosunKv implements BenchKv {
  private readonly watches: WatchHandle[] = [];
  constructor(private readonly store: StoreClient) {}

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.store.put(Buffer.from(key), value);
  }

  async rangePrefix(prefix: string): Promise<number> {
    const key = Buffer.from(prefix);
    const res = await this.store.range({ key, rangeEnd: prefixRangeEnd(key) });
    return res.kvs.length;
  }

  async watchPrefix(prefix: string, onPut: (key: string, value: Uint8Array) => void) {
    const key = Buffer.from(prefix);
    const handle = await this.store.watch({ key, rangeEnd: prefixRangeEnd(key) }, (response) => {
      if (response.kind !== "events") return;
      for (const e of response.events) {
        if (e.type === "PUT") onPut(Buffer.from(e.kv.key).toString(), e.kv.value);
      }
    });
    this.watches.push(handle);
    return () => handle.cancel();
  }

  async close(): Promise<void> {
    for (const w of this.watches.splice(0)) w.cancel();
    this.store.close();
  }
}

export class BosunCluster implements BenchCluster {
  readonly name = "bosun";
  /** Every pid this cluster started (restarts add to it), for stop and killNow. */
  private readonly started = new Set<number>();
  private clientNode: ClientNode | null = null;

  private constructor(
    readonly runDir: string,
    private readonly cluster: ClusterFile,
  ) {}

  static async start(timings: BosunTimings): Promise<BosunCluster> {
    const runDir = mkdtempSync(join(tmpdir(), "bosun-bench-store-"));
    const cluster = planCluster(
      {
        servers: "3",
        baseIp: randomLoopbackBase(3),
        port: "7100",
        runDir,
        faults: false,
        foreground: false,
        timeoutMs: "60000",
        name: "bench",
        ...(timings.tickMs ? { tickMs: String(timings.tickMs) } : {}),
        ...(timings.electionTicks ? { electionTicks: String(timings.electionTicks) } : {}),
      },
      runDir,
    );
    // etcd runs at --log-level error; so do the nodes (logging is not what is measured)
    cluster.nodeFlags = [...(cluster.nodeFlags ?? []), "--log-level", "error"];
    writeFileSync(tokenFile(runDir), `${cluster.token}\n`, { mode: 0o600 });
    const bosun = new BosunCluster(runDir, cluster);
    try {
      for (const node of cluster.nodes) {
        node.pid = spawnNode(cluster, node, runDir, true).pid ?? null;
        if (node.pid) bosun.started.add(node.pid);
      }
      writeClusterFile(runDir, cluster);
      await waitFor(
        "bosun: every node meshed",
        async () => (await Promise.all(cluster.nodes.map((n) => isReady(n)))).every((r) => r.ready),
        60_000,
        100,
      );
      await bosun.waitHealthy(60_000);
      bosun.clientNode = await ClientNode.connect({
        servers: Object.fromEntries(cluster.nodes.map((n) => [n.id, `${n.host}:${n.port}`])),
        token: cluster.token,
        clock,
        logger: pino({ level: "silent" }),
        meshTls: cluster.meshTls === true,
        ...meshCaOption(runDir),
      });
      await bosun.clientNode.waitConnected(cluster.nodes.length);
      return bosun;
    } catch (error) {
      await bosun.stop();
      throw error;
    }
  }

  async client(policy: ClientPolicy): Promise<BenchKv> {
    if (!this.clientNode) throw new Error("bosun cluster not started");
    return new BosunKv(this.clientNode.storeClient(policy.requestTimeoutMs));
  }

  private async view(node: ClusterNode): Promise<NodeView | undefined> {
    if (node.pid === null || !isBosunNode(node.pid)) return undefined;
    return getJson<NodeView>(node, "/status").catch(() => undefined);
  }

  private async leaderNode(): Promise<{ node: ClusterNode; view: NodeView }> {
    const views = await Promise.all(this.cluster.nodes.map((n) => this.view(n)));
    let best: { node: ClusterNode; view: NodeView } | undefined;
    views.forEach((view, i) => {
      if (view?.raft?.role !== "leader") return;
      if (!best || view.raft.term > best.view.raft.term) {
        best = { node: this.cluster.nodes[i] as ClusterNode, view };
      }
    });
    if (!best) throw new Error("no bosun leader");
    return best;
  }

  async leaderPid(): Promise<number> {
    return (await this.leaderNode()).view.pid;
  }

  memberPids(): number[] {
    return this.cluster.nodes.map((n) => n.pid ?? 0);
  }

  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      "bosun: every node up, one leader, followers caught up",
      async () => {
        const views = await Promise.all(this.cluster.nodes.map((n) => this.view(n)));
        if (views.some((v) => v?.raft === undefined || v.raft === null)) return false;
        const rafts = views.map((v) => (v as NodeView).raft);
        const leaders = new Set(rafts.map((r) => r.leader));
        const [leader] = [...leaders];
        if (leaders.size !== 1 || !leader) return false;
        const lead = rafts.find((r) => r.role === "leader");
        if (!lead) return false;
        return rafts.every((r) => r.applied + CAUGHT_UP_SLACK >= lead.commit);
      },
      timeoutMs,
      100,
    );
  }

  async restart(pid: number): Promise<void> {
    const node = this.cluster.nodes.find((n) => n.pid === pid);
    if (!node) throw new Error(`no bosun node with pid ${pid}`);
    await waitFor(`${node.id} (pid ${pid}) to exit`, () => !isBosunNode(pid));
    const restarted = restartNode(this.cluster, node.id, this.runDir);
    if (restarted.pid) this.started.add(restarted.pid);
    await this.waitHealthy();
  }

  async stop(): Promise<void> {
    try {
      await this.clientNode?.close();
    } finally {
      this.clientNode = null;
      this.killNow();
      await waitFor(
        "bosun nodes to exit",
        () => [...this.started].every((pid) => !isBosunNode(pid)),
        STOP_TIMEOUT_MS,
      );
      rmSync(this.runDir, { recursive: true, force: true });
    }
  }

  killNow(): void {
    for (const pid of this.started) {
      if (!isBosunNode(pid)) continue;
      process.kill(pid, "SIGCONT"); // a SIGSTOPped node still dies of SIGKILL; continue it anyway
      process.kill(pid, "SIGKILL");
    }
  }
}
