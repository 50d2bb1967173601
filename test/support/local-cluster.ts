import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { SystemClock } from "../../actors/system/clock.ts";
import { ClientNode, meshCaOption } from "../../cmd/client-node.ts";
import { type ClusterFile, readClusterFile } from "../../cmd/cluster-file.ts";
import { isBosunNode, restartNode, STOP_GRACE_MS } from "../../cmd/launcher.ts";
import type { NodeStatus } from "../../cmd/node/introspection.ts";
import { getJson } from "../../cmd/node-client.ts";
import { nodeDataDirs, stopLeftoverPods } from "../../cmd/pod-processes.ts";
import { randomLoopbackBase } from "./loopback.ts";
import { expectNoProcessesUnder, killAll, killProcessesUnder, runBosun } from "./processes.ts";
import { waitFor } from "./wait.ts";

export interface RaftStatus {
  role: string;
  leader: string | null;
  term: number;
  commit: number;
  applied: number;
  revision: number;
  snapshotsInstalled: number;
  firstIndex: number;
}

/**
 * A real local cluster for a test: `bosun up` in a temp run dir on random loopback addresses,
 * plus a client member in this process. `stop()` does what `bosun down` does — nodes, then the
 * pods they left running, found through their kubelets' pid files — and then fails the test if
 * any process of the cluster is still alive (after killing it: a red run leaves nothing either).
 */
export class LocalCluster {
  readonly clock = new SystemClock();
  client: ClientNode | null = null;

  private constructor(
    readonly runDir: string,
    public cluster: ClusterFile,
  ) {}

  static async start(servers = 3, flags: string[] = [], workloads = false): Promise<LocalCluster> {
    const runDir = mkdtempSync(join(tmpdir(), "bosun-cluster-"));
    const up = await runBosun(
      // Tests of controllers, scheduler and kubelets run their own; `workloads` asks for the built-in ones.
      [
        "up",
        "--servers",
        String(servers),
        "--base-ip",
        randomLoopbackBase(servers),
        ...(workloads ? [] : ["--no-workloads"]),
        ...flags,
      ],
      { BOSUN_RUN_DIR: runDir },
    );
    let cluster: ClusterFile | undefined;
    try {
      cluster = readClusterFile(runDir);
    } catch {
      // no cluster file: up failed before starting anything
    }
    const local = new LocalCluster(
      runDir,
      cluster ?? { name: "", token: "", faults: false, nodes: [] },
    );
    if (up.code !== 0) {
      await local.stop();
      throw new Error(`bosun up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
    }
    return local;
  }

  /**
   * A client member: by default with a server's certificate from the run dir's CA (its
   * undeclared API requests are the cluster admin's); `"token"` trades the join token for an
   * agent's, as any other joining member does.
   */
  async connectClient(credentials: "admin" | "token" = "admin"): Promise<ClientNode> {
    const servers = Object.fromEntries(
      this.cluster.nodes.map((n) => [n.id, `${n.host}:${n.port}`]),
    );
    this.client = await ClientNode.connect({
      servers,
      token: this.cluster.token,
      clock: this.clock,
      logger: pino({ level: "silent" }),
      meshTls: this.cluster.meshTls === true,
      ...(credentials === "admin" ? meshCaOption(this.runDir) : {}),
    });
    await this.client.waitConnected(this.cluster.nodes.length);
    return this.client;
  }

  node(id: string) {
    const node = this.cluster.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  async raft(id: string): Promise<RaftStatus> {
    const status = await getJson<NodeStatus>(this.node(id), "/status");
    return status.raft as RaftStatus;
  }

  /** The id of the leader that every live member agrees on. */
  async leader(except: string[] = []): Promise<string> {
    return waitFor("an agreed leader", async () => {
      const live = this.cluster.nodes.filter(
        (n) => !except.includes(n.id) && n.pid && isBosunNode(n.pid),
      );
      const views = await Promise.all(live.map((n) => this.raft(n.id)));
      const leaders = new Set(views.map((v) => v.leader));
      const [leader] = [...leaders];
      return leaders.size === 1 && leader && !except.includes(leader) ? leader : undefined;
    });
  }

  kill(id: string, signal: NodeJS.Signals = "SIGKILL"): void {
    const pid = this.node(id).pid;
    if (pid && isBosunNode(pid)) process.kill(pid, signal);
  }

  async waitDead(id: string): Promise<void> {
    const pid = this.node(id).pid;
    await waitFor(`${id} to exit`, () => !pid || !isBosunNode(pid));
  }

  async restart(id: string): Promise<void> {
    await this.waitDead(id);
    restartNode(this.cluster, id, this.runDir);
    await waitFor(`${id} to answer`, () => this.raft(id).then((r) => r !== null));
  }

  async stop(): Promise<void> {
    try {
      await this.client?.close();
    } finally {
      try {
        // SIGTERM first: a node stops its kubelet's pods on the way out (bounded), then SIGKILL
        await killAll(
          this.cluster.nodes.map((n) => n.pid),
          "SIGTERM",
        ).catch(() => undefined);
        await killAll(this.cluster.nodes.map((n) => n.pid));
        // the pods of nodes SIGKILLed during the test, as `bosun down` finds and stops them
        await stopLeftoverPods(this.clock, nodeDataDirs(this.runDir, this.cluster), STOP_GRACE_MS);
        await expectNoProcessesUnder(this.runDir);
      } finally {
        killProcessesUnder(this.runDir); // a failed step above must not leak the rest
        // BOSUN_KEEP_RUN_DIR=1 keeps the logs and data of a run to look into afterwards
        if (!process.env.BOSUN_KEEP_RUN_DIR) rmSync(this.runDir, { recursive: true, force: true });
        else console.error(`kept ${this.runDir}`);
      }
    }
  }
}
