import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readProcStat } from "../../../actors/kubelet/process-identity.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { answer, waitForReadyNodes } from "./workload-harness.ts";

/**
 * A kubelet restart re-adopts its pods, as Kubernetes' kubelet re-attaches to running
 * containers: SIGKILL one node process (only it: the pod runs in its own process group), start
 * the node again on the same data dir, and the pod's process is the same one — Running, same
 * restartCount, container ID and pod IP, still answering HTTP, its log going on in the same
 * file. Deleting the pod then stops that process. Every process is killed in afterAll.
 */
let cluster: LocalCluster;
let podPid: number | null = null;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
  await waitForReadyNodes(cluster, 3);
});

afterAll(async () => {
  if (podPid !== null && alive(podPid)) process.kill(-podPid, "SIGKILL");
  await cluster?.stop();
});

type Json = Record<string, unknown>;

/** Alive and not a zombie (a dead process not yet reaped by whoever inherited it). */
function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
}

interface PodView {
  uid: string;
  phase: string;
  ready: boolean;
  ip: string;
  restartCount: number;
  containerID: string;
}

async function view(name: string): Promise<PodView> {
  const p = JSON.parse(await kubectlOk(cluster, ["get", "pod", name, "-o", "json"])) as Json;
  const status = p.status as {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; containerID?: string }[];
  };
  const c = status.containerStatuses?.[0];
  return {
    uid: String((p.metadata as Json).uid),
    phase: status.phase ?? "",
    ready: status.conditions?.some((x) => x.type === "Ready" && x.status === "True") ?? false,
    ip: status.podIP ?? "",
    restartCount: c?.restartCount ?? -1,
    containerID: c?.containerID ?? "",
  };
}

it("a node's kubelet restarted after SIGKILL re-adopts its running pod instead of restarting it", async () => {
  // neither the Raft leader nor the server kubectl talks to: the cluster keeps serving
  const leader = await cluster.leader();
  const first = cluster.cluster.nodes[0]?.id;
  const victim = cluster.cluster.nodes.find((n) => n.id !== leader && n.id !== first);
  if (victim === undefined) throw new Error("no node to restart");
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "survivor" },
      spec: {
        nodeName: victim.id,
        terminationGracePeriodSeconds: 5,
        // stays bound while its node is briefly unreachable (no eviction)
        tolerations: [{ operator: "Exists" }],
        containers: [{ name: "echo", image: "bosun/echo", ports: [{ containerPort: 8080 }] }],
      },
    }),
  );
  const before = await waitFor(
    "survivor Running and Ready",
    async () => {
      const v = await view("survivor");
      return v.phase === "Running" && v.ready && v.ip !== "" && v.containerID !== "" && v;
    },
    60_000,
  );
  expect(await waitFor("an HTTP answer", async () => (await answer(before.ip)) ?? undefined)).toBe(
    "survivor",
  );
  const pidFile = join(victim.dataDir, "kubelet", "pods", before.uid, "pids", "echo.pid");
  const record = JSON.parse(readFileSync(pidFile, "utf8")) as { pid: number; procStart: string };
  podPid = record.pid;
  expect(readProcStat(record.pid)?.pgid).toBe(record.pid); // its own process group
  const logFile = join(victim.dataDir, "kubelet", "pods", before.uid, "logs", "echo", "0.log");
  const logBefore = readFileSync(logFile, "utf8");

  cluster.kill(victim.id); // SIGKILL the node process only
  await cluster.waitDead(victim.id);
  expect(alive(record.pid)).toBe(true);
  await cluster.restart(victim.id);

  // the restarted kubelet itself runs the pod (the API may still show the status from before)
  const client = await cluster.connectClient();
  await waitFor(
    "the restarted kubelet to run survivor",
    async () => {
      const pods = await client.system.ask<{ name: string; state: unknown }[]>(
        client.system.address("test"),
        `${victim.id}/kubelet`,
        "kubelet.pods",
        null,
      );
      return pods.some((p) => p.name === "survivor" && p.state === "running");
    },
    60_000,
  );
  const after = await waitFor("survivor Running and Ready", async () => {
    const v = await view("survivor");
    return v.phase === "Running" && v.ready && v;
  });
  expect(after.restartCount).toBe(before.restartCount);
  expect(after.containerID).toBe(before.containerID);
  expect(after.ip).toBe(before.ip);
  expect(alive(record.pid)).toBe(true);
  expect(readProcStat(record.pid)?.startTime).toBe(record.procStart); // the very same process
  expect(
    await waitFor(
      "an HTTP answer after the restart",
      async () => (await answer(after.ip)) ?? undefined,
    ),
  ).toBe("survivor");
  // the adopted process's log goes on in the same file, served by the restarted kubelet
  const logs = await kubectlOk(cluster, ["logs", "survivor"]);
  expect(logs.startsWith(logBefore)).toBe(true);
  expect(logs.length).toBeGreaterThan(logBefore.length);

  await kubectlOk(cluster, ["delete", "pod", "survivor", "--wait=false"]);
  await waitFor("the adopted process to be stopped", () => !alive(record.pid), 30_000);
  podPid = null;
}, 150_000);
