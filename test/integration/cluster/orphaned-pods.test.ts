import { existsSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  currentBootId,
  isSameProcess,
  readProcStat,
} from "../../../actors/kubelet/process-identity.ts";
import { findPodProcesses, type PodProcess } from "../../../cmd/pod-processes.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { processesUnder, runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { runEchoDeployment, waitForReadyNodes } from "../workloads/workload-harness.ts";

/**
 * No process outlives its cluster (#22). A pod keeps running when its node's process is
 * SIGKILLed, as Kubernetes' containers outlive a dead kubelet; nobody stops it then but the
 * launcher, which finds it through the pid file its kubelet wrote. `bosun member remove` stops
 * the pods of the node it removes; `bosun status` lists a killed node's pods as orphaned; and
 * `bosun down --purge` stops them before it deletes the run dir, leaving no process of the
 * cluster in /proc. LocalCluster.stop checks /proc again in afterAll.
 */
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
  await waitForReadyNodes(cluster, 3);
});

afterAll(async () => {
  await cluster?.stop();
});

function env(): Record<string, string> {
  return { BOSUN_RUN_DIR: cluster.runDir };
}

/** The pod processes the node's kubelet recorded that are still running. */
function podProcessesOf(nodeId: string): PodProcess[] {
  return findPodProcesses([{ nodeId, dataDir: cluster.node(nodeId).dataDir }]);
}

function running(pod: PodProcess): boolean {
  return isSameProcess(pod.record, readProcStat(pod.record.pid), currentBootId());
}

function waitForPodProcesses(nodeId: string): Promise<PodProcess[]> {
  return waitFor(`a pod process on ${nodeId}`, () => {
    const pods = podProcessesOf(nodeId);
    return pods.length > 0 ? pods : undefined;
  });
}

let removed = "";

it("member remove stops the pods of the node it removes", async () => {
  const pods = await runEchoDeployment(cluster, "web", 3);
  expect(new Set(pods.map((p) => p.node)).size).toBe(3); // one per node
  // kubectl talks to the first server: remove another one, not the Raft leader
  const leader = await cluster.leader();
  const first = cluster.cluster.nodes[0]?.id;
  removed =
    cluster.cluster.nodes.map((n) => n.id).find((id) => id !== leader && id !== first) ?? "";
  expect(removed).not.toBe("");
  const before = await waitForPodProcesses(removed);

  const remove = await runBosun(["member", "remove", removed], env());
  expect(remove.code, `${remove.stdout}\n${remove.stderr}`).toBe(0);

  for (const pod of before) expect(running(pod), `pid ${pod.record.pid}`).toBe(false);
  expect(processesUnder(cluster.node(removed).dataDir, { environ: true })).toEqual([]);
});

it("kill -9 a node running pods: status lists them as orphaned, down --purge stops every process", async () => {
  const first = cluster.cluster.nodes[0]?.id ?? "";
  const victim = cluster.cluster.nodes
    .map((n) => n.id)
    .find((id) => id !== first && id !== removed);
  if (victim === undefined) throw new Error("no node to kill");
  const orphans = await waitForPodProcesses(victim);

  cluster.kill(victim);
  await cluster.waitDead(victim);
  for (const pod of orphans) expect(running(pod), `pid ${pod.record.pid}`).toBe(true);

  const json = await runBosun(["status", "--json"], env());
  expect(json.code).toBe(3); // a node is down
  const listed = (JSON.parse(json.stdout) as { orphanedPods: { node: string; pid: number }[] })
    .orphanedPods;
  expect(listed.filter((o) => o.node === victim).map((o) => o.pid)).toEqual(
    expect.arrayContaining(orphans.map((p) => p.record.pid)),
  );
  expect(listed.filter((o) => o.node === first)).toEqual([]); // its node runs: not orphaned
  const text = await runBosun(["status"], env());
  expect(text.stdout).toContain("orphaned pod process");
  expect(text.stdout).toContain(String(orphans[0]?.record.pid));

  const down = await runBosun(["down", "--purge"], env());
  expect(down.code, `${down.stdout}\n${down.stderr}`).toBe(0);
  expect(down.stdout).toMatch(/stopping \d+ pod process/);
  for (const pod of orphans) expect(running(pod), `pid ${pod.record.pid}`).toBe(false);
  expect(processesUnder(cluster.runDir, { environ: true })).toEqual([]);
  expect(existsSync(cluster.runDir)).toBe(false);
});
