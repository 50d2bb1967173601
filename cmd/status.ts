import { Command } from "commander";
import { DNS_PORT, FALLBACK_DNS_PORT } from "../actors/dns/limits.ts";
import { formatStateValue } from "../actors/system/machine-chart.ts";
import {
  type ClusterFile,
  type ClusterNode,
  defaultRunDir,
  readClusterFile,
} from "./cluster-file.ts";
import {
  collectKubernetesOverview,
  type KubernetesOverview,
  renderKubernetesOverview,
} from "./kubernetes-overview.ts";
import { isBosunNode } from "./launcher.ts";
import type { NodeStatus } from "./node/introspection.ts";
import { getJson } from "./node-client.ts";
import { findPodProcesses, nodeDataDirs, type PodProcess, podNameOf } from "./pod-processes.ts";

export interface NodeReport {
  node: ClusterNode;
  status: NodeStatus | null;
  error: string | null;
}

export async function collectStatus(cluster: ClusterFile): Promise<NodeReport[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      try {
        return { node, status: await getJson<NodeStatus>(node, "/status"), error: null };
      } catch (error) {
        return { node, status: null, error: (error as Error).message };
      }
    }),
  );
}

/**
 * Pod processes whose node's process is not running (killed, crashed, or removed from the
 * cluster): no kubelet watches or stops them any more; `bosun down` does.
 */
export function orphanedPodProcesses(runDir: string, cluster: ClusterFile): PodProcess[] {
  const live = new Set(
    cluster.nodes.filter((n) => n.pid !== null && isBosunNode(n.pid)).map((n) => n.id),
  );
  return findPodProcesses(nodeDataDirs(runDir, cluster)).filter((p) => !live.has(p.nodeId));
}

/** An orphaned pod process as `status --json` shows it. */
function orphanJson({ nodeId, record }: PodProcess) {
  return {
    node: nodeId,
    namespace: record.podNamespace ?? null,
    pod: record.podName ?? null,
    podUid: record.podUid,
    container: record.containerName,
    pid: record.pid,
    podIP: record.podIP,
    image: record.image,
  };
}

function orphanTable(orphans: readonly PodProcess[]): string {
  const rows = [["NODE", "POD", "CONTAINER", "PID", "POD IP"]];
  for (const { nodeId, record } of orphans) {
    rows.push([
      nodeId,
      podNameOf(record),
      record.containerName,
      String(record.pid),
      record.podIP ?? "-",
    ]);
  }
  return table(rows);
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

interface RaftView {
  role: string;
  leader: string | null;
  term: number;
  commit: number;
  applied: number;
  revision: number;
  lastIndex: number;
}

/** Leader, term, commit/applied index and lag per member (lag: behind the leader's commit). */
function raftTable(reports: NodeReport[]): string | null {
  const views = reports
    .map((r) => ({ id: r.node.id, raft: r.status?.raft as RaftView | null | undefined }))
    .filter((v): v is { id: string; raft: RaftView } => !!v.raft);
  if (views.length === 0) return null;
  const leaderCommit = Math.max(
    ...views.filter((v) => v.raft.role === "leader").map((v) => v.raft.commit),
    0,
  );
  const rows = [["MEMBER", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "REVISION"]];
  for (const { id, raft } of views) {
    const lag = leaderCommit > 0 ? String(Math.max(0, leaderCommit - raft.applied)) : "-";
    rows.push([
      id,
      raft.role,
      String(raft.term),
      raft.leader ?? "-",
      String(raft.commit),
      String(raft.applied),
      lag,
      String(raft.revision),
    ]);
  }
  return table(rows);
}

/**
 * Which node's proxy holds this host's cluster-IP listeners (actors/proxy/proxy.ts): read off
 * the `proxy` actors' states. Null when no node runs a proxy.
 */
export function clusterIPHolderLine(reports: NodeReport[]): string | null {
  return hostLockHolderLine(reports, "proxy", "cluster-IP listeners");
}

/** Which node serves the local cloud's load balancers (actors/cloud/local's data plane). */
export function loadBalancerHolderLine(reports: NodeReport[]): string | null {
  return hostLockHolderLine(reports, "cloud-lb-data-plane", "local cloud load balancers");
}

/** Who holds a host lock, from the states of the actors (`nX/<actor>`) that compete for it. */
function hostLockHolderLine(reports: NodeReport[], actor: string, what: string): string | null {
  const states: [string, string][] = [];
  for (const { node, status } of reports) {
    const competitor = status?.actors.find((a) => a.address === `${node.id}/${actor}`);
    if (competitor) states.push([node.id, formatStateValue(competitor.state)]);
  }
  if (states.length === 0) return null;
  const holders = states.filter(([, s]) => s.includes("holding")).map(([id]) => id);
  const others = states.filter(([id]) => !holders.includes(id)).map(([id, s]) => `${id} ${s}`);
  return `${what}: ${holders.length > 0 ? `held by ${holders.join(", ")}` : "held by none"}${others.length > 0 ? ` (${others.join(", ")})` : ""}`;
}

/**
 * Where each server's cluster DNS server answers (actors/dns/dns.ts): port 53, or the fallback
 * port when the node could not bind 53 (no root, no CAP_NET_BIND_SERVICE). Null without DNS.
 */
export function clusterDnsLine(reports: NodeReport[]): string | null {
  const parts: string[] = [];
  for (const { node, status } of reports) {
    const dns = status?.actors.find((a) => a.address === `${node.id}/dns`);
    if (!dns) continue;
    const state = formatStateValue(dns.state);
    const where = state.endsWith("wellKnownPort")
      ? `${node.host}:${DNS_PORT}`
      : state.endsWith("fallbackPort")
        ? `${node.host}:${FALLBACK_DNS_PORT} (fallback: port ${DNS_PORT} not allowed)`
        : state;
    parts.push(`${node.id} ${where}`);
  }
  return parts.length === 0 ? null : `cluster DNS: ${parts.join(", ")}`;
}

/**
 * `bosun status`: the Kubernetes view first (when the store answers), then the members and the
 * Raft table, then — with `actors` — every actor's state.
 */
export function renderStatus(
  cluster: ClusterFile,
  reports: NodeReport[],
  orphans: readonly PodProcess[] = [],
  options: { actors?: boolean; kubernetes?: KubernetesOverview | null } = {},
): string {
  const nodes = [["NODE", "ADDRESS", "PID", "STATE", "RSS MiB (PEAK)", "RUNTIME", "LINKS"]];
  const actors = [["ACTOR", "MACHINE", "STATE", "STATUS", "RESTARTS"]];
  for (const { node, status, error } of reports) {
    const links = status
      ? Object.entries(status.links)
          .map(([peer, link]) => `${peer}:${link.state}`)
          .join(" ")
      : "";
    nodes.push([
      node.id,
      `${node.host}:${node.port}`,
      String(status?.pid ?? node.pid ?? "-"),
      status ? "up" : `down (${error})`,
      status?.memory
        ? `${status.memory.rssMiB.toFixed(0)} (${status.memory.peakRssMiB.toFixed(0)})`
        : "-",
      status?.runtime ?? "-",
      links,
    ]);
    for (const a of status?.actors ?? []) {
      const restarts = a.restarts > 0 ? `${a.restarts} (last: ${a.lastError ?? "?"})` : "0";
      actors.push([a.address, a.machine, formatStateValue(a.state), a.status, restarts]);
    }
  }
  const up = reports.filter((r) => r.status).length;
  const raft = raftTable(reports);
  const holder = clusterIPHolderLine(reports);
  const lbHolder = loadBalancerHolderLine(reports);
  const dns = clusterDnsLine(reports);
  return [
    ...(options.kubernetes ? [renderKubernetesOverview(options.kubernetes, table), ""] : []),
    `cluster ${cluster.name}: ${up}/${cluster.nodes.length} nodes up`,
    "",
    table(nodes),
    ...(raft ? ["", raft] : []),
    ...(holder ? ["", holder] : []),
    ...(lbHolder ? [lbHolder] : []),
    ...(dns ? [dns] : []),
    ...(options.actors
      ? ["", table(actors)]
      : ["", "(every actor's state: bosun status --actors)"]),
    ...(orphans.length > 0
      ? [
          "",
          `${orphans.length} orphaned pod process(es): their node is down ('bosun down' stops them)`,
          orphanTable(orphans),
        ]
      : []),
  ].join("\n");
}

export function statusCommand(): Command {
  return new Command("status")
    .description(
      "the cluster at a glance: Kubernetes nodes, pods and leaders, then members, links and Raft",
    )
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--json", "machine-readable output", false)
    .option("--actors", "also every actor, its machine and state", false)
    .action(async (options: { runDir: string; json: boolean; actors: boolean }) => {
      const cluster = readClusterFile(options.runDir);
      const [reports, kubernetes] = await Promise.all([
        collectStatus(cluster),
        collectKubernetesOverview(cluster),
      ]);
      const orphans = orphanedPodProcesses(options.runDir, cluster);
      if (options.json) {
        const nodes = reports.map(({ node, status, error }) => ({
          ...node,
          up: !!status,
          error,
          status,
        }));
        const orphanedPods = orphans.map(orphanJson);
        console.log(
          JSON.stringify({ name: cluster.name, kubernetes, nodes, orphanedPods }, null, 2),
        );
      } else {
        console.log(
          renderStatus(cluster, reports, orphans, { actors: options.actors, kubernetes }),
        );
      }
      if (reports.some((r) => r.status === null)) process.exitCode = 3;
    });
}
