/**
 * The Kubernetes view `bosun status` leads with: nodes and whether they are Ready, pods by phase
 * (per node), and who leads the controller manager and the scheduler (their Leases). Read from
 * the store through a node's `/kv/range` (the objects' JSON, as the API server keeps them), so
 * it answers even when no API server does; a serializable read of one node (it may lag a little).
 */
import { asObject, asString, type JsonObject } from "../actors/api/json.ts";
import { resourceByPlural } from "../actors/api/resources.ts";
import { KUBE_SYSTEM_NAMESPACE } from "../actors/api/well-known.ts";
import { collectionPrefix } from "../actors/apiserver/registry-keys.ts";
import { baseUrl, type ClusterFile } from "./cluster-file.ts";
import { NODE_REQUEST_TIMEOUT_MS } from "./node-client.ts";

export interface KubernetesOverview {
  nodes: { name: string; ready: string; pods: number }[];
  podsByPhase: Record<string, number>;
  leaders: { lease: string; holder: string }[];
}

const ELECTED = ["kube-controller-manager", "kube-scheduler"];

async function range(cluster: ClusterFile, prefix: string): Promise<JsonObject[]> {
  const query = new URLSearchParams({ key: prefix, prefix: "1", serializable: "1" });
  let last = "no node answered";
  for (const node of cluster.nodes) {
    try {
      const res = await fetch(`${baseUrl(node)}/kv/range?${query}`, {
        headers: { authorization: `Bearer ${cluster.token}` },
        signal: AbortSignal.timeout(NODE_REQUEST_TIMEOUT_MS),
      });
      if (!res.ok) {
        last = `${node.id}: ${res.status}`;
        continue;
      }
      const body = (await res.json()) as { kvs: { value: string }[] };
      return body.kvs.map((kv) => JSON.parse(kv.value) as JsonObject);
    } catch (error) {
      last = `${node.id}: ${(error as Error).message}`;
    }
  }
  throw new Error(last);
}

function prefixOf(plural: string, group: string, namespace: string | null = null): string {
  const r = resourceByPlural(plural, group);
  if (r === undefined) throw new Error(`no resource ${plural}`);
  return collectionPrefix(r, namespace);
}

/** Null when no node answers (the cluster is down). */
export async function collectKubernetesOverview(
  cluster: ClusterFile,
): Promise<KubernetesOverview | null> {
  try {
    const [nodes, pods, leases] = await Promise.all([
      range(cluster, prefixOf("nodes", "")),
      range(cluster, prefixOf("pods", "")),
      range(cluster, prefixOf("leases", "coordination.k8s.io", KUBE_SYSTEM_NAMESPACE)),
    ]);
    const podsByPhase: Record<string, number> = {};
    const podsOnNode = new Map<string, number>();
    for (const pod of pods) {
      const phase = asString(asObject(pod.status).phase) || "Pending";
      podsByPhase[phase] = (podsByPhase[phase] ?? 0) + 1;
      const node = asString(asObject(pod.spec).nodeName);
      if (node && phase !== "Succeeded" && phase !== "Failed")
        podsOnNode.set(node, (podsOnNode.get(node) ?? 0) + 1);
    }
    return {
      nodes: nodes.map((n) => {
        const name = asString(asObject(n.metadata).name);
        const conditions = (asObject(n.status).conditions ?? []) as JsonObject[];
        const ready = conditions.find((c) => c.type === "Ready");
        const status = asString(ready?.status);
        return {
          name,
          ready: status === "True" ? "Ready" : status === "Unknown" ? "Unknown" : "NotReady",
          pods: podsOnNode.get(name) ?? 0,
        };
      }),
      podsByPhase,
      leaders: leases
        .filter((l) => ELECTED.includes(asString(asObject(l.metadata).name)))
        .map((l) => ({
          lease: asString(asObject(l.metadata).name),
          holder: asString(asObject(l.spec).holderIdentity) || "-",
        })),
    };
  } catch {
    return null;
  }
}

/** The overview's lines, before the member and actor tables. */
export function renderKubernetesOverview(
  overview: KubernetesOverview,
  table: (rows: string[][]) => string,
): string {
  const ready = overview.nodes.filter((n) => n.ready === "Ready").length;
  const phases = ["Running", "Pending", "Succeeded", "Failed", "Unknown"]
    .filter((p) => (overview.podsByPhase[p] ?? 0) > 0)
    .map((p) => `${overview.podsByPhase[p]} ${p}`);
  const rows = [["NODE", "STATUS", "PODS"]];
  for (const n of overview.nodes) rows.push([n.name, n.ready, String(n.pods)]);
  const leaders = overview.leaders.map((l) => `${l.lease} ${l.holder}`).join(", ");
  return [
    `kubernetes: ${ready}/${overview.nodes.length} nodes Ready; pods: ${phases.join(", ") || "none"}`,
    ...(leaders ? [`leaders: ${leaders}`] : []),
    "",
    table(rows),
  ].join("\n");
}
