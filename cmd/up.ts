import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import {
  newEncryptionKey,
  renderSecretsEncryptionConfiguration,
} from "../actors/apiserver/encryption-config.ts";
import { renderKubeconfig } from "../actors/apiserver/kubeconfig.ts";
import { ensureClusterPki } from "../actors/apiserver/pki.ts";
import { type Clock, SystemClock, sleep } from "../actors/system/clock.ts";
import {
  type ClusterFile,
  defaultRunDir,
  readClusterFile,
  writeClusterFile,
} from "./cluster-file.ts";
import {
  encryptionConfigFile,
  isBosunNode,
  STOP_GRACE_MS,
  spawnNode,
  stopNode,
  tailLog,
  tokenFile,
} from "./launcher.ts";
import { isReady } from "./node-client.ts";
import { nodeDataDirs, stopLeftoverPods } from "./pod-processes.ts";
import { collectStatus, renderStatus } from "./status.ts";

interface UpOptions {
  servers: string;
  baseIp: string;
  port: string;
  runDir: string;
  faults: boolean;
  foreground: boolean;
  timeoutMs: string;
  name: string;
  tickMs?: string;
  electionTicks?: string;
  snapshotEntries?: string;
  compactionInterval?: string;
  nodeMonitorGracePeriod?: string;
  horizontalPodAutoscalerSyncPeriod?: string;
  horizontalPodAutoscalerDownscaleStabilization?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
  workloads?: boolean;
  kubelet?: boolean;
  apiPort?: string;
  cloudProvider?: string;
  lbPool?: string;
  zones?: string;
  auditPolicyFile?: string;
  auditLogPath?: string;
  auditLogMaxsize?: string;
  auditLogMaxbackup?: string;
  maxRequestsInflight?: string;
  maxMutatingRequestsInflight?: string;
}

/** Where `up` keeps the local cloud: its config and state (see actors/cloud/local). */
export function cloudConfigPath(runDir: string): string {
  return join(runDir, "cloud", "config.json");
}

/** `n1=zone-a,n2=zone-b` → a map; a node not named is a zone of its own. */
function parseZones(text: string | undefined): Record<string, string> {
  const zones: Record<string, string> = {};
  for (const pair of (text ?? "").split(",").filter((p) => p.trim() !== "")) {
    const [node, zone] = pair.split("=").map((s) => s.trim());
    if (!node || !zone) throw new Error(`--zones wants node=zone,..., got ${pair}`);
    zones[node] = zone;
  }
  return zones;
}

function writeCloudConfig(runDir: string, cluster: ClusterFile, options: UpOptions): void {
  const path = cloudConfigPath(runDir);
  mkdirSync(join(runDir, "cloud"), { recursive: true });
  const config = {
    provider: "local",
    clusterName: cluster.name,
    // without a pool the cloud picks a /24 of 127.240.0.0/16 for its directory
    ...(options.lbPool ? { pool: options.lbPool } : {}),
    region: "local",
    zones: parseZones(options.zones),
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/** Where `up` writes the kubeconfig for kubectl. */
export function kubeconfigPath(runDir: string): string {
  return join(runDir, "kubeconfig");
}

/**
 * The cluster CA, a server certificate for each of `issueFor` (default: every node) and the
 * admin token; then the kubeconfig, with a context per API server the cluster has now.
 */
export function writeApiCredentials(
  runDir: string,
  cluster: ClusterFile,
  wallMs: number,
  issueFor: readonly ClusterFile["nodes"][number][] = cluster.nodes,
): string {
  const { ca, adminToken } = ensureClusterPki(runDir, issueFor, wallMs);
  // Secrets encrypted at rest from the first write (kept on a second `up` of the run dir)
  const encryption = encryptionConfigFile(runDir);
  if (!existsSync(encryption)) {
    const key = newEncryptionKey(`key-${wallMs}`);
    writeFileSync(encryption, renderSecretsEncryptionConfiguration([key]), { mode: 0o600 });
  }
  const path = kubeconfigPath(runDir);
  const servers = cluster.nodes
    .filter((n) => n.apiPort !== undefined)
    .map((n) => ({ id: n.id, url: `https://${n.host}:${n.apiPort}` }));
  writeFileSync(
    path,
    renderKubeconfig({
      clusterName: cluster.name,
      caCertPem: ca.certPem,
      credentials: { token: adminToken },
      servers,
    }),
    { mode: 0o600 },
  );
  return path;
}

const READY_POLL_MS = 200;
const MAX_SERVERS = 7;

export function planCluster(options: UpOptions, runDir: string): ClusterFile {
  const servers = Number(options.servers);
  if (!Number.isInteger(servers) || servers < 1 || servers > MAX_SERVERS) {
    throw new Error(`--servers must be 1..${MAX_SERVERS}, got ${options.servers}`);
  }
  const octets = options.baseIp.split(".").map(Number);
  if (octets.length !== 4 || octets[0] !== 127 || octets.some((o) => !(o >= 0 && o <= 255))) {
    throw new Error(`--base-ip must be a loopback address (127.x.y.z), got ${options.baseIp}`);
  }
  const last = octets[3] as number;
  if (last + servers - 1 > 254)
    throw new Error(`--base-ip ${options.baseIp} leaves no room for ${servers} nodes`);
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new Error(`bad --port ${options.port}`);
  const apiPort = Number(options.apiPort ?? "6443");
  if (!Number.isInteger(apiPort) || apiPort < 1 || apiPort > 65_535 || apiPort === port)
    throw new Error(`bad --api-port ${options.apiPort}`);
  const nodes = Array.from({ length: servers }, (_, i) => {
    const id = `n${i + 1}`;
    return {
      id,
      host: `${octets.slice(0, 3).join(".")}.${last + i}`,
      port,
      pid: null,
      logFile: join(runDir, "logs", `${id}.log`),
      dataDir: join(runDir, "data", id),
      apiPort,
    };
  });
  const nodeFlags: string[] = [];
  if (options.tickMs) nodeFlags.push("--tick-ms", options.tickMs);
  if (options.electionTicks) nodeFlags.push("--election-ticks", options.electionTicks);
  if (options.snapshotEntries) nodeFlags.push("--snapshot-entries", options.snapshotEntries);
  if (options.compactionInterval)
    nodeFlags.push("--compaction-interval", options.compactionInterval);
  if (options.nodeMonitorGracePeriod)
    nodeFlags.push("--node-monitor-grace-period", options.nodeMonitorGracePeriod);
  if (options.horizontalPodAutoscalerSyncPeriod)
    nodeFlags.push(
      "--horizontal-pod-autoscaler-sync-period",
      options.horizontalPodAutoscalerSyncPeriod,
    );
  if (options.horizontalPodAutoscalerDownscaleStabilization)
    nodeFlags.push(
      "--horizontal-pod-autoscaler-downscale-stabilization",
      options.horizontalPodAutoscalerDownscaleStabilization,
    );
  if (options.leaderElectLeaseDuration)
    nodeFlags.push("--leader-elect-lease-duration", options.leaderElectLeaseDuration);
  if (options.leaderElectRenewDeadline)
    nodeFlags.push("--leader-elect-renew-deadline", options.leaderElectRenewDeadline);
  if (options.leaderElectRetryPeriod)
    nodeFlags.push("--leader-elect-retry-period", options.leaderElectRetryPeriod);
  if (options.workloads === false) nodeFlags.push("--no-workloads");
  if ((options.cloudProvider ?? "external") === "external")
    nodeFlags.push("--cloud-provider", "external", "--cloud-config", cloudConfigPath(runDir));
  else if (options.cloudProvider !== "none")
    throw new Error(`--cloud-provider must be external or none, got ${options.cloudProvider}`);
  nodeFlags.push(...apiLimitFlags(options));
  if (options.kubelet === false) nodeFlags.push("--no-kubelet");
  const token = randomBytes(24).toString("hex");
  const bootstrap = nodes.map((n) => n.id);
  return {
    name: options.name,
    token,
    faults: options.faults,
    nodeFlags,
    bootstrap,
    meshTls: true,
    nodes,
    ...(options.auditPolicyFile && options.auditLogPath
      ? { auditLogPath: resolve(options.auditLogPath) }
      : {}),
  };
}

/** The audit and in-flight flags every node gets (the audit log's path is per node: launcher.ts). */
function apiLimitFlags(options: UpOptions): string[] {
  const flags: string[] = [];
  if (options.auditPolicyFile) flags.push("--audit-policy-file", resolve(options.auditPolicyFile));
  if (options.auditLogMaxsize) flags.push("--audit-log-maxsize", options.auditLogMaxsize);
  if (options.auditLogMaxbackup) flags.push("--audit-log-maxbackup", options.auditLogMaxbackup);
  if (options.maxRequestsInflight)
    flags.push("--max-requests-inflight", options.maxRequestsInflight);
  if (options.maxMutatingRequestsInflight)
    flags.push("--max-mutating-requests-inflight", options.maxMutatingRequestsInflight);
  return flags;
}

function refuseIfRunning(runDir: string): void {
  let existing: ClusterFile;
  try {
    existing = readClusterFile(runDir);
  } catch {
    return;
  }
  const alive = existing.nodes.filter((n) => n.pid !== null && isBosunNode(n.pid));
  if (alive.length > 0) {
    throw new Error(
      `a cluster is already running in ${runDir} (${alive.map((n) => `${n.id} pid ${n.pid}`).join(", ")}): 'bosun down' first`,
    );
  }
}

async function waitUntilReady(
  clock: Clock,
  cluster: ClusterFile,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = clock.nowMs() + timeoutMs;
  let last = "";
  while (clock.nowMs() < deadline) {
    const states = await Promise.all(cluster.nodes.map((n) => isReady(n)));
    const ready = states.filter((s) => s.ready).length;
    const line = `[${ready}/${cluster.nodes.length} ready] ${cluster.nodes
      .map((n, i) => `${n.id}: ${states[i]?.ready ? "meshed" : states[i]?.reason}`)
      .join("; ")}`;
    if (line !== last) console.log(line);
    last = line;
    if (ready === cluster.nodes.length) return true;
    await sleep(clock, READY_POLL_MS);
  }
  return false;
}

/** Stops the nodes, then whatever pod processes they left running. */
async function stopAll(clock: Clock, cluster: ClusterFile, runDir: string): Promise<void> {
  await Promise.all(cluster.nodes.map((n) => (n.pid === null ? null : stopNode(clock, n.pid))));
  await stopLeftoverPods(clock, nodeDataDirs(runDir, cluster), STOP_GRACE_MS, console.log);
}

export function upCommand(): Command {
  return new Command("up")
    .description("start a local cluster, wait until it is healthy, print its status")
    .option("--servers <n>", "server nodes", "3")
    .option(
      "--base-ip <ip>",
      "loopback address of the first node; the next ones count up",
      "127.0.0.11",
    )
    .option("--port <port>", "port every node listens on (each on its own address)", "7100")
    .option("--api-port <port>", "Kubernetes API server port (HTTPS) of every server", "6443")
    .option("--run-dir <dir>", "where pids, logs, data and the cluster file go", defaultRunDir())
    .option("--name <name>", "cluster name", "bosun")
    .option("--faults", "start nodes with fault injection and chaos enabled", false)
    .option("--tick-ms <ms>", "Raft tick of every node (see bosun node --help)")
    .option("--election-ticks <n>", "Raft election timeout in ticks")
    .option("--snapshot-entries <n>", "snapshot and compact the Raft log every N entries")
    .option(
      "--compaction-interval <duration|ms>",
      "compact the store's history this often (see bosun node --help)",
    )
    .option(
      "--node-monitor-grace-period <duration|ms>",
      "a node whose Lease stands still this long is Unknown (see bosun node --help)",
    )
    .option(
      "--horizontal-pod-autoscaler-sync-period <duration|ms>",
      "how often the HPA controller looks at each HPA (see bosun node --help)",
    )
    .option(
      "--horizontal-pod-autoscaler-downscale-stabilization <duration|ms>",
      "the HPA's scale-down stabilization window (see bosun node --help)",
    )
    .option(
      "--leader-elect-lease-duration <duration|ms>",
      "the controller manager's and scheduler's Lease duration (see bosun node --help)",
    )
    .option("--leader-elect-renew-deadline <duration|ms>", "their renew deadline")
    .option("--leader-elect-retry-period <duration|ms>", "their renew and retry period")
    .option("--no-workloads", "no controllers, scheduler or kubelets: the store and API only")
    .option(
      "--cloud-provider <external|none>",
      "external (default): the cloud controller manager with the local cloud provider; none: no cloud",
      "external",
    )
    .option(
      "--lb-pool <cidr>",
      "the local cloud's external IP pool (default: a /24 of 127.240.0.0/16)",
    )
    .option("--zones <node=zone,...>", "the local cloud's zones (default: one zone per node)")
    .option("--audit-policy-file <file>", "audit.k8s.io/v1 Policy for every API server")
    .option(
      "--audit-log-path <file>",
      "audit log; each node writes <file> with -<node id> before its extension (default: audit.log in its data dir)",
    )
    .option("--audit-log-maxsize <MB>", "rotate each audit log at this size")
    .option("--audit-log-maxbackup <n>", "rotated audit logs kept per node")
    .option("--max-requests-inflight <n>", "read-only API requests at once per priority level")
    .option("--max-mutating-requests-inflight <n>", "mutating API requests at once per level")
    .option("--no-kubelet", "servers run no kubelet (the control plane only, as scheduler_perf)")
    .option("--foreground", "stay attached; Ctrl-C stops the cluster", false)
    .option("--timeout-ms <ms>", "how long to wait for the cluster to be healthy", "60000")
    .action(async (options: UpOptions) => {
      const clock = new SystemClock();
      const runDir = options.runDir;
      refuseIfRunning(runDir);
      const cluster = planCluster(options, runDir);
      writeClusterFile(runDir, cluster);
      if (options.cloudProvider !== "none") writeCloudConfig(runDir, cluster, options);
      writeFileSync(tokenFile(runDir), `${cluster.token}\n`, { mode: 0o600 });
      const kubeconfig = writeApiCredentials(runDir, cluster, clock.wallMs());
      console.log(`starting ${cluster.nodes.length} nodes (run dir ${runDir})`);
      let stopping = false;
      const children = cluster.nodes.map((node) => {
        const child = spawnNode(cluster, node, runDir, !options.foreground);
        node.pid = child.pid ?? null;
        console.log(
          `  ${node.id} pid ${node.pid} on ${node.host}:${node.port}, log ${node.logFile}`,
        );
        child.on("exit", (code, signal) => {
          if (options.foreground && !stopping) console.log(`${node.id} exited (${signal ?? code})`);
        });
        return child;
      });
      writeClusterFile(runDir, cluster);
      const ok = await waitUntilReady(clock, cluster, Number(options.timeoutMs));
      if (!ok) {
        console.error(`cluster not healthy after ${options.timeoutMs} ms; last log lines:`);
        for (const n of cluster.nodes) console.error(`--- ${n.id}\n${tailLog(n.logFile)}`);
        stopping = true;
        await stopAll(clock, cluster, runDir);
        process.exit(1);
      }
      console.log(`\n${renderStatus(cluster, await collectStatus(cluster))}\n`);
      console.log(
        [
          "try, from another terminal in this folder:",
          "  npx bosun status                  # members, Raft leader and lag, every actor",
          "  npx bosun kv put /hello world     # the replicated store",
          "  npx bosun kv get /hello",
          "  npx bosun inspect n1/raft         # a live statechart",
          "  npx bosun member add              # grow the cluster online",
          "  kubectl apply -f cmd/samples/echo.yaml && kubectl get pods -o wide   # (KUBECONFIG above)",
          "",
          "kubectl against the cluster's API servers:",
          `  export KUBECONFIG=${kubeconfig}`,
          "  kubectl get namespaces",
        ].join("\n"),
      );
      if (!options.foreground) {
        for (const child of children) child.unref();
        process.exit(0);
      }
      console.log("running in the foreground; Ctrl-C stops the cluster");
      const shutdown = async () => {
        if (stopping) return;
        stopping = true;
        console.log("stopping the cluster…");
        await stopAll(clock, cluster, runDir);
        for (const n of cluster.nodes) n.pid = null;
        writeClusterFile(runDir, cluster);
        console.log("stopped");
        process.exit(0);
      };
      process.on("SIGINT", shutdown);
      process.on("SIGTERM", shutdown);
    });
}

export function downCommand(): Command {
  return new Command("down")
    .description(
      "stop the local cluster: its nodes, then every pod process they left running (data persists unless --purge)",
    )
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--purge", "also delete data dirs and logs", false)
    .action(async (options: { runDir: string; purge: boolean }) => {
      const clock = new SystemClock();
      const cluster = readClusterFile(options.runDir);
      await Promise.all(
        cluster.nodes.map(async (node) => {
          const outcome = node.pid === null ? "gone" : await stopNode(clock, node.pid);
          console.log(`${node.id}: ${outcome === "gone" ? "not running" : outcome}`);
          node.pid = null;
        }),
      );
      writeClusterFile(options.runDir, cluster);
      // Only once the nodes are gone: a live kubelet would start a stopped container again. A
      // node that was killed left its pods running; one that stopped may not have finished.
      const pods = await stopLeftoverPods(
        clock,
        nodeDataDirs(options.runDir, cluster),
        STOP_GRACE_MS,
        console.log,
      );
      if (pods.survivors.length > 0) {
        console.error("some pod processes survived SIGKILL: the run dir is kept");
        process.exitCode = 1;
        return;
      }
      if (options.purge) {
        rmSync(options.runDir, { recursive: true, force: true });
        console.log(`purged ${options.runDir}`);
      }
    });
}
