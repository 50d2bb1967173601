import { afterAll, beforeAll, expect, it } from "vitest";
import { SystemClock } from "../../../actors/system/clock.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { podsOf, runEchoDeployment, waitForReadyNodes } from "./workload-harness.ts";

/**
 * Node failure with the built-in workloads of `bosun up`: a Deployment of 3 echo pods runs one
 * per node; SIGKILL one node (neither the Raft leader nor the server kubectl talks to). Its Lease
 * stops moving, so the node lifecycle controller marks it Ready=Unknown and taints it
 * `node.kubernetes.io/unreachable:NoExecute`, evicts its pod, the ReplicaSet makes a new one and
 * the scheduler puts it on a surviving node; the Deployment is back to 3 available.
 * Then the node comes back, and the Raft leader's node is killed: the store elects a new leader,
 * the controller manager and scheduler leases are held by survivors, and the Deployment
 * converges again and still acts (scaled up, the new pod placed and Running).
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
  firstVictim = victim as string;
}, 90_000);

let firstVictim = "";

interface LeaseView {
  holder: string;
  renewedAtMs: number;
}

async function lease(name: string): Promise<LeaseView> {
  const l = JSON.parse(
    await kubectlOk(cluster, ["get", "lease", "-n", "kube-system", name, "-o", "json"]),
  ) as Json;
  const spec = l.spec as Json;
  return {
    holder: String(spec.holderIdentity ?? ""),
    renewedAtMs: Date.parse(String(spec.renewTime ?? "")),
  };
}

it("the Raft leader's node killed: leases move to survivors and the Deployment converges and scales", async () => {
  expect(firstVictim).not.toBe("");
  await cluster.restart(firstVictim);
  await waitFor(
    `${firstVictim} Ready and untainted again`,
    async () => {
      const n = await node(firstVictim);
      return n.ready === "True" && n.taints.length === 0;
    },
    40_000,
    200,
  );

  // the controller manager's node is made the Raft leader (etcdctl move-leader's twin), so
  // one kill takes the store's leader, the active controllers and (often) the scheduler
  const before = {
    manager: await lease("kube-controller-manager"),
    scheduler: await lease("kube-scheduler"),
  };
  const leader = before.manager.holder;
  const moved = await runBosun(["member", "move-leader", leader], {
    BOSUN_RUN_DIR: cluster.runDir,
  });
  expect(moved.code, moved.stderr).toBe(0);
  expect(await cluster.leader()).toBe(leader);
  const survivor = cluster.cluster.nodes.find((n) => n.id !== leader)?.id as string;
  // kubectl talks to a survivor from now on (the first context may be the leader's server)
  const context =
    cluster.cluster.nodes[0]?.id === survivor
      ? cluster.cluster.name
      : `${cluster.cluster.name}-${survivor}`;
  await kubectlOk(cluster, ["config", "use-context", context]);
  const killedAtWallMs = Date.now();
  cluster.kill(leader);
  await cluster.waitDead(leader);
  const newLeader = await cluster.leader([leader]);
  expect(newLeader).not.toBe(leader);

  for (const name of ["kube-controller-manager", "kube-scheduler"]) {
    await waitFor(
      `the ${name} lease held and renewed by a survivor`,
      async () => {
        const l = await lease(name);
        return l.holder !== "" && l.holder !== leader && l.renewedAtMs > killedAtWallMs;
      },
      30_000,
      200,
    );
  }

  await waitFor(
    "3 pods Running and Ready, none on the killed leader's node",
    async () => {
      const all = await podsOf(cluster, "app=web");
      return (
        all.length === 3 && all.every((p) => p.phase === "Running" && p.ready && p.node !== leader)
      );
    },
    60_000,
    200,
  );
  await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=4"]);
  const scaled = await waitFor(
    "the Deployment scaled to 4 available after the failover",
    async () => {
      const all = await podsOf(cluster, "app=web");
      return all.length === 4 &&
        all.every((p) => p.phase === "Running" && p.ready && p.node !== leader)
        ? all
        : undefined;
    },
    60_000,
    200,
  );
  expect(new Set(scaled.map((p) => p.node)).has(leader)).toBe(false);
  console.log(
    `leader node failure: ${leader} killed; manager lease ${before.manager.holder} → ${(await lease("kube-controller-manager")).holder}, scheduler lease ${before.scheduler.holder} → ${(await lease("kube-scheduler")).holder}`,
  );
}, 180_000);
