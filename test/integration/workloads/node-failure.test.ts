import { afterAll, beforeAll, expect, it } from "vitest";
import { SystemClock } from "../../../actors/system/clock.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { podsOf, runEchoDeployment, waitForReadyNodes } from "./workload-harness.ts";

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

type Json = Record<string, unknown>;

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
  await waitForReadyNodes(cluster, 3);
  const running = await runEchoDeployment(cluster, "web", 3);
  expect(new Set(running.map((p) => p.node)).size).toBe(3); // one per node, before the kill

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
      const all = await podsOf(cluster, "app=web");
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
