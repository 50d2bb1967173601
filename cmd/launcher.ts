import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { ensureClusterPki, pkiPaths } from "../actors/apiserver/pki.ts";
import { type Clock, SystemClock, sleep } from "../actors/system/clock.ts";
import { type ClusterFile, type ClusterNode, writeClusterFile } from "./cluster-file.ts";
import { BOSUN_TS, bosunArgv, isBosunEntry, NODE_V8_FLAGS, SOURCE_ROOT } from "./node-runtime.ts";

/** Starting and stopping `bosun node` processes for `up`, `down` and the tests. */
export { BOSUN_TS };
export const STOP_GRACE_MS = 10_000;
const STOP_POLL_MS = 50;

export function tokenFile(runDir: string): string {
  return join(runDir, "token");
}

/** The API servers' EncryptionConfiguration (`bosun up` writes one with a random key). */
export function encryptionConfigFile(runDir: string): string {
  return join(runDir, "pki", "encryption-config.yaml");
}

export function nodeArgs(cluster: ClusterFile, node: ClusterNode, runDir: string): string[] {
  const peers = cluster.nodes
    .filter((n) => n.id !== node.id)
    .map((n) => `${n.id}=${n.host}:${n.port}`)
    .join(",");
  const args = [...NODE_V8_FLAGS, ...bosunArgv(["node", "--id", node.id])];
  args.push("--listen", `${node.host}:${node.port}`, "--data-dir", node.dataDir);
  args.push("--token-file", tokenFile(runDir));
  if (peers) args.push("--peers", peers);
  if (cluster.faults) args.push("--faults");
  args.push("--servers", (cluster.bootstrap ?? cluster.nodes.map((n) => n.id)).join(","));
  args.push(...(cluster.nodeFlags ?? []));
  if (cluster.auditLogPath)
    args.push("--audit-log-path", nodeAuditLogPath(cluster.auditLogPath, node.id));
  const pki = pkiPaths(runDir);
  if (cluster.meshTls) {
    // every member of the cluster file is a server: it signs with the cluster CA
    args.push("--mesh-tls", "--mesh-ca-cert", pki.caCert, "--mesh-ca-key", pki.caKey);
  }
  if (
    node.apiPort !== undefined &&
    existsSync(pki.adminToken) &&
    existsSync(pki.serverCert(node.id))
  ) {
    args.push("--api-port", String(node.apiPort), "--api-token-file", pki.adminToken);
    args.push("--api-cert", pki.serverCert(node.id), "--api-key", pki.serverKey(node.id));
    args.push("--api-client-ca", pki.caCert);
    if (existsSync(pki.serviceAccountKey))
      args.push("--service-account-key-file", pki.serviceAccountKey);
    const encryption = encryptionConfigFile(runDir);
    if (existsSync(encryption)) args.push("--encryption-provider-config", encryption);
  }
  return args;
}

/** `audit.log` → `audit-n1.log`: the nodes of one cluster never share an audit file. */
export function nodeAuditLogPath(path: string, nodeId: string): string {
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}-${nodeId}${ext}`;
}

/** Starts one node with its output appended to its log file. */
export function spawnNode(
  cluster: ClusterFile,
  node: ClusterNode,
  runDir: string,
  detached: boolean,
): ChildProcess {
  mkdirSync(dirname(node.logFile), { recursive: true });
  // the cluster CA the mesh certificates come from (`up` made it already; chaos clusters not)
  if (cluster.meshTls) ensureClusterPki(runDir, [], new SystemClock().wallMs());
  const log = openSync(node.logFile, "a");
  // BOSUN_PROF_DIR=dir: each node writes a V8 CPU profile there when it exits (for benchmarks)
  const prof = process.env.BOSUN_PROF_DIR
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BOSUN_PROF_DIR}`]
    : [];
  const child = spawn(process.execPath, [...prof, ...nodeArgs(cluster, node, runDir)], {
    cwd: SOURCE_ROOT,
    detached,
    stdio: ["ignore", log, log],
    env: { ...process.env, BOSUN_TOKEN: "" },
  });
  if (detached) child.unref();
  return child;
}

/** Starts a stopped (or killed) node of the cluster again and records its new pid. */
export function restartNode(cluster: ClusterFile, nodeId: string, runDir: string): ClusterNode {
  const node = cluster.nodes.find((n) => n.id === nodeId);
  if (node === undefined) throw new Error(`no node ${nodeId}`);
  if (node.pid !== null && isBosunNode(node.pid))
    throw new Error(`${nodeId} is still running (pid ${node.pid})`);
  node.pid = spawnNode(cluster, node, runDir, true).pid ?? null;
  writeClusterFile(runDir, cluster);
  return node;
}

/** True when `pid` is alive and is a bosun node (a recycled pid is left alone). */
export function isBosunNode(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return false;
  try {
    const args = readFileSync(cmdline, "utf8").split("\0");
    return isBosunEntry(args) && args.includes("node");
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopNode(
  clock: Clock,
  pid: number,
  graceMs = STOP_GRACE_MS,
): Promise<"stopped" | "killed" | "gone"> {
  if (!isBosunNode(pid)) return "gone";
  process.kill(pid, "SIGTERM");
  const deadline = clock.nowMs() + graceMs;
  while (clock.nowMs() < deadline) {
    if (!isBosunNode(pid)) return "stopped";
    await sleep(clock, STOP_POLL_MS);
  }
  if (isBosunNode(pid)) process.kill(pid, "SIGKILL");
  return "killed";
}

/** The last `lines` lines of a log file, for telling a user why a node did not come up. */
export function tailLog(file: string, lines = 15): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
