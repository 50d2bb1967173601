import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { answer, podsOf, runEchoDeployment, waitForReadyNodes } from "./workload-harness.ts";

/**
 * The whole path with the built-in workloads of `bosun up`: the real kubectl creates a
 * Deployment; the controllers make a ReplicaSet and pods, the scheduler spreads them over the
 * three nodes, the kubelets run them as processes on their own pod IPs (and serve `kubectl logs`);
 * deleting the Deployment
 * removes the pods and their processes.
 */
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
});

afterAll(async () => {
  await cluster?.stop();
});

it("kubectl create deployment: 3 pods on 3 nodes answer HTTP; delete removes pods and processes", async () => {
  await waitForReadyNodes(cluster, 3);
  const running = await runEchoDeployment(cluster, "web", 3);
  expect(new Set(running.map((p) => p.node)).size).toBe(3); // spread: one per node
  expect(new Set(running.map((p) => p.ip)).size).toBe(3); // each pod its own IP
  for (const pod of running) expect(await answer(pod.ip)).toBe(pod.name);
  // kubectl logs: the API server asks the kubelet of the pod's node over the mesh
  const first = running[0]!;
  const logs = await kubectlOk(cluster, ["logs", first.name]);
  expect(logs).toContain(`echo ${first.name} listening on ${first.ip}:8080`);
  expect(logs).toMatch(/GET \/ from/);
  const rollout = await kubectlOk(cluster, [
    "rollout",
    "status",
    "deployment/web",
    "--timeout=60s",
  ]);
  expect(rollout).toContain("successfully rolled out");

  await kubectlOk(cluster, ["delete", "deployment", "web"]);
  await waitFor(
    "the pods to be gone",
    async () => (await podsOf(cluster, "app=web")).length === 0,
    60_000,
  );
  await waitFor("the processes to be gone", async () => {
    const answers = await Promise.all(running.map((p) => answer(p.ip)));
    return answers.every((a) => a === null);
  });
  expect(await kubectlOk(cluster, ["get", "rs", "-l", "app=web", "-o", "name"])).toBe("");
});
