import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * What `bosun up` leaves in its run dir so that `down`, `status` and `inspect` can find the
 * cluster: one JSON file, written atomically (write then rename).
 */
export interface ClusterNode {
  id: string;
  host: string;
  port: number;
  pid: number | null;
  logFile: string;
  dataDir: string;
  /** The Kubernetes API server's port on `host` (HTTPS). */
  apiPort?: number;
}

export interface ClusterFile {
  name: string;
  token: string;
  faults: boolean;
  /** Extra `bosun node` flags every node gets (tick, election, snapshot settings). */
  nodeFlags?: string[];
  /** `up --audit-log-path`: each node's audit log is this path with `-<node id>` before its extension. */
  auditLogPath?: string;
  /** The servers the cluster was first started with (a joining server bootstraps from them). */
  bootstrap?: string[];
  /** Mutual TLS on the mesh: servers sign with the run dir's CA, clients join with the token. */
  meshTls?: boolean;
  nodes: ClusterNode[];
}

export const CLUSTER_FILE_NAME = "cluster.json";

export function defaultRunDir(): string {
  return resolve(process.env.BOSUN_RUN_DIR ?? ".bosun");
}

export function clusterFilePath(runDir: string): string {
  return join(runDir, CLUSTER_FILE_NAME);
}

export function readClusterFile(runDir: string): ClusterFile {
  const path = clusterFilePath(runDir);
  if (!existsSync(path)) {
    throw new Error(`no cluster in ${runDir} (${path} not found): start one with 'bosun up'`);
  }
  const parsed = JSON.parse(readFileSync(path, "utf8")) as ClusterFile;
  if (!Array.isArray(parsed.nodes) || typeof parsed.token !== "string") {
    throw new Error(`${path} is not a bosun cluster file`);
  }
  return parsed;
}

export function writeClusterFile(runDir: string, cluster: ClusterFile): void {
  mkdirSync(runDir, { recursive: true });
  const path = clusterFilePath(runDir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(cluster, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** The node that hosts `address` (`n2/scheduler` → n2). */
export function nodeFor(cluster: ClusterFile, address: string): ClusterNode {
  const nodeId = address.split("/")[0] ?? "";
  const node = cluster.nodes.find((n) => n.id === nodeId);
  if (node === undefined) {
    const known = cluster.nodes.map((n) => n.id).join(", ");
    throw new Error(`no node '${nodeId}' in this cluster (nodes: ${known})`);
  }
  return node;
}

export function baseUrl(node: Pick<ClusterNode, "host" | "port">): string {
  return `http://${node.host}:${node.port}`;
}
