import { afterAll, beforeAll, expect, it } from "vitest";
import { SystemClock } from "../../../actors/system/clock.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";

/**
 * Node failure with the built-in workloads of `bosun up`: a Deployment of 3 echo pods runs one
 * per node; SIGKILL one node (neither the Raft leader nor the server kubectl talks to). Its Lease
 * stops moving, so the node lifecycle controller marks it Ready=Unknown and taints it
 * `node.kubernetes.io/unreachable:NoExecute`, evicts its pod, the ReplicaSet makes a new one and
 * the scheduler puts it on a surviving node; the Deployment is back to 3 available.
 */
let cluster: LocalCluster;
const clock = new SystemClock();

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
});

afterAll(async () => {
  await cluster?.stop();
});

interface PodView {
  name: string;
  node: string;
  phase: string;
  ready: boolean;
}

type Json = Record<string, unknown>;

async function pods(): Promise<PodView[]> {
  const out = await kubectlOk(cluster, ["get", "pods", "-l", "app=web", "-o", "json"]);
  return (JSON.parse(out).items as Json[]).map((p) => {
    const status = p.status as { phase?: string; conditions?: { type: string; status: string }[] };
    return {
      name: String((p.metadata as { name: string }).name),
      node: String((p.spec as { nodeName?: string }).nodeName ?? ""),
      phase: status.phase ?? "",
      ready: status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    };
  });
}

async function node(name: string): Promise<{ ready: string; taints: string[] }> {
  const n = JSON.parse(await kubectlOk(cluster, ["get", "node", name, "-o", "json"])) as Json;
  const conditions = ((n.status as Json).conditions ?? []) as { type: string; status: string }[];
  const taints = ((n.spec as Json).taints ?? []) as { key: string; effect: string }[];
  return {
    ready: conditions.find((c) => c.type === "Ready")?.status ?? "",
    taints: taints.map((t) => `${t.key}:${t.effect}`),
  };
}

it("a killed node goes Unknown and tainted; its pod is replaced on a surviving node", async () => {
  await waitFor(
    "three Ready nodes",
    async () => {
      const out = await kubectlOk(cluster, ["get", "nodes", "--no-headers"]);
      return out.split("\n").filter((l) => / Ready /.test(l)).length === 3;
    },
    60_000,
  );
  await kubectlOk(cluster, [
    "create",
    "deployment",
    "web",
    "--image=bosun/echo",
    "--replicas=3",
    "--port=8080",
  ]);
  const running = await waitFor(
    "3 pods Running and Ready on 3 nodes",
    async () => {
      const all = await pods();
      return all.length === 3 &&
        all.every((p) => p.phase === "Running" && p.ready) &&
        new Set(all.map((p) => p.node)).size === 3
        ? all
        : undefined;
    },
    60_000,
  );

  // kubectl's current context is the first server: keep it and the Raft leader alive
  const leader = await cluster.leader();
  const first = cluster.cluster.nodes[0]?.id;
  const victim = cluster.cluster.nodes.map((n) => n.id).find((id) => id !== leader && id !== first);
  expect(victim).toBeDefined();
  const victimPod = running.find((p) => p.node === victim);
  expect(victimPod).toBeDefined();

  const killedAt = clock.nowMs();
  cluster.kill(victim as string);

  await waitFor(
    `${victim} Ready=Unknown with the unreachable NoExecute taint`,
    async () => {
      const n = await node(victim as string);
      return n.ready === "Unknown" && n.taints.includes("node.kubernetes.io/unreachable:NoExecute");
    },
    40_000,
    200,
  );
  const notReadyMs = Math.round(clock.nowMs() - killedAt);

  const replaced = await waitFor(
    "the evicted pod replaced by one Running on a surviving node",
    async () => {
      const all = await pods();
      if (all.some((p) => p.name === victimPod?.name)) return undefined;
      return all.length === 3 &&
        all.every((p) => p.phase === "Running" && p.ready && p.node !== victim)
        ? all
        : undefined;
    },
    40_000,
    200,
  );
  const replacedMs = Math.round(clock.nowMs() - killedAt);
  expect(replaced.every((p) => p.node !== victim)).toBe(true);

  await waitFor(
    "the Deployment back to 3 available",
    async () => {
      const d = JSON.parse(
        await kubectlOk(cluster, ["get", "deployment", "web", "-o", "json"]),
      ) as Json;
      return (d.status as Json).availableReplicas === 3;
    },
    30_000,
    200,
  );
  console.log(
    `node failure: ${victim} Unknown+tainted ${notReadyMs} ms after SIGKILL, replacement Running after ${replacedMs} ms`,
  );
}, 90_000);
