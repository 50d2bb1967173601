/**
 * Priorities and preemption end to end, with the real kubectl on a 3-server cluster (each node
 * a kubelet reporting this machine's CPUs): three low-priority pods fill the three nodes, two
 * of them guarded by a PodDisruptionBudget that allows no disruption; a high-priority pod that
 * fits nowhere preempts the one unguarded pod, is nominated to its node, and runs there once
 * the victim is gone. Priorities come from PriorityClasses at admission.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { waitForReadyNodes } from "../workloads/workload-harness.ts";

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const get = (args: string[]) => kubectlOk(cluster, ["get", ...args]);

it("a high-priority pod preempts the one low-priority pod no PodDisruptionBudget guards", async () => {
  await waitForReadyNodes(cluster, 3);
  const nodes = JSON.parse(await get(["nodes", "-o", "json"])).items as {
    metadata: { name: string };
    status: { allocatable: { cpu: string } };
  }[];
  // each node's allocatable CPU, in millicores: a low pod takes three quarters of it
  const milli = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000);
  const smallest = Math.min(...nodes.map((n) => milli(n.status.allocatable.cpu)));
  const lowCpu = `${Math.floor(smallest * 0.75)}m`;
  const highCpu = `${Math.floor(smallest * 0.5)}m`;

  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded}
spec:
  minAvailable: 2
  selector: {matchLabels: {guard: "yes"}}
`,
  );
  expect(await get(["priorityclass", "high", "-o", "jsonpath={.value}"])).toBe("1000");
  const lowPod = (name: string, guard: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {guard: "${guard}"}}
spec:
  priorityClassName: low
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchExpressions: [{key: guard, operator: Exists}]}
        topologyKey: kubernetes.io/hostname
  containers:
  - {name: c, image: bosun/pause, resources: {requests: {cpu: ${lowCpu}}}}
---
`;
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    lowPod("guarded-1", "yes") + lowPod("guarded-2", "yes") + lowPod("free", "no"),
  );
  expect(await get(["pod", "free", "-o", "jsonpath={.spec.priority}"])).toBe("10");
  await waitFor(
    "three low pods Running, the budget at zero disruptions",
    async () => {
      const phases = await get(["pods", "-l", "guard", "-o", "jsonpath={.items[*].status.phase}"]);
      const pdb = await get([
        "pdb",
        "guarded",
        "-o",
        "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}",
      ]);
      return phases === "Running Running Running" && pdb === "2/0";
    },
    60_000,
  );
  const freeNode = await get(["pod", "free", "-o", "jsonpath={.spec.nodeName}"]);

  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `apiVersion: v1
kind: Pod
metadata: {name: urgent}
spec:
  priorityClassName: high
  containers:
  - {name: c, image: bosun/pause, resources: {requests: {cpu: ${highCpu}}}}
`,
  );
  await waitFor(
    "urgent running on the free pod's node",
    async () =>
      (await get(["pod", "urgent", "-o", "jsonpath={.spec.nodeName}/{.status.phase}"])) ===
      `${freeNode}/Running`,
    60_000,
  );
  expect(await get(["pods", "-l", "guard=yes", "-o", "jsonpath={.items[*].status.phase}"])).toBe(
    "Running Running",
  );
  expect(await get(["pods", "free", "--ignore-not-found", "-o", "name"])).toBe("");
  const events = await get([
    "events",
    "--field-selector",
    "involvedObject.name=free,reason=Preempted",
    "-o",
    "jsonpath={.items[*].message}",
  ]);
  expect(events).toMatch(new RegExp(`^Preempted by pod .* on node ${freeNode}`));
}, 240_000);
