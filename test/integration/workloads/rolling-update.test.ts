import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { type PodWatchEvent, podsOf, waitForReadyNodes, watchPods } from "./workload-harness.ts";

/**
 * A RollingUpdate seen through the real kubectl and a raw pod watch: while `kubectl set env`
 * rolls 4 echo replicas (maxSurge 1, maxUnavailable 1) to a new template, the pods that are
 * Ready and not terminating never number fewer than replicas − maxUnavailable = 3, replaying
 * every watch event in the order the API server sent them. `kubectl rollout history` lists the
 * revisions and `kubectl rollout undo` brings back the first ReplicaSet (same name, revision 3).
 */
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
});

afterAll(async () => {
  await cluster?.stop();
});

type Json = Record<string, unknown>;
const REPLICAS = 4;
const MAX_UNAVAILABLE = 1;

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: roll
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels: {app: roll}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: ${MAX_UNAVAILABLE}}
  template:
    metadata:
      labels: {app: roll}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: echo
        image: bosun/echo
        ports: [{containerPort: 8080}]
        env: [{name: VERSION, value: "1"}]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
`;

/** Replays watch events into the set of pods that count as available for the rollout. */
class ReadyPods {
  private readonly ready = new Set<string>();
  minSeen = Number.POSITIVE_INFINITY;
  events = 0;

  apply(event: PodWatchEvent): void {
    if (event.type === "BOOKMARK" || event.type === "ERROR") return;
    const meta = event.object.metadata as Json;
    const status = (event.object.status ?? {}) as Json;
    const conditions = (status.conditions ?? []) as { type: string; status: string }[];
    const name = String(meta.name);
    const isReady =
      event.type !== "DELETED" &&
      meta.deletionTimestamp === undefined &&
      conditions.some((c) => c.type === "Ready" && c.status === "True");
    if (isReady) this.ready.add(name);
    else this.ready.delete(name);
    this.events++;
  }

  get count(): number {
    return this.ready.size;
  }

  /** Starts recording the minimum once the starting state is fully ready. */
  record(): void {
    this.minSeen = Math.min(this.minSeen, this.ready.size);
  }
}

async function replicaSets(): Promise<{ name: string; revision: string; replicas: number }[]> {
  const list = JSON.parse(await kubectlOk(cluster, ["get", "rs", "-l", "app=roll", "-o", "json"]));
  return (list.items as Json[]).map((rs) => ({
    name: String((rs.metadata as Json).name),
    revision: String(
      ((rs.metadata as Json).annotations as Json)["deployment.kubernetes.io/revision"],
    ),
    replicas: Number((rs.spec as Json).replicas),
  }));
}

async function rolledOut(): Promise<void> {
  const out = await kubectlOk(cluster, ["rollout", "status", "deployment/roll", "--timeout=120s"]);
  expect(out).toContain("successfully rolled out");
}

/** Runs `change` (a kubectl command that starts a rollout) while replaying a pod watch. */
async function rollWhileWatching(change: string[]): Promise<ReadyPods> {
  const ready = new ReadyPods();
  let recording = false;
  const watch = watchPods(cluster, "app=roll", (e) => {
    ready.apply(e);
    if (recording) ready.record();
  });
  try {
    await waitFor("the watch to replay the ready pods", () => ready.count === REPLICAS);
    recording = true;
    await kubectlOk(cluster, change);
    await rolledOut();
    await waitFor(
      "every pod on the new template Ready",
      async () => {
        const pods = await podsOf(cluster, "app=roll");
        return pods.length === REPLICAS && pods.every((p) => p.ready && p.phase === "Running");
      },
      60_000,
    );
  } finally {
    watch.stop();
  }
  expect(ready.events).toBeGreaterThan(REPLICAS); // it saw the rollout, not only the start
  return ready;
}

it("a rolling update keeps replicas − maxUnavailable ready; rollout undo returns to the first ReplicaSet", async () => {
  await waitForReadyNodes(cluster, 3);
  await kubectlOk(cluster, ["apply", "-f", "-"], DEPLOYMENT);
  await rolledOut();
  const before = await podsOf(cluster, "app=roll");
  expect(before.filter((p) => p.ready)).toHaveLength(REPLICAS);
  const [first] = await replicaSets();
  expect(first?.revision).toBe("1");

  const update = await rollWhileWatching(["set", "env", "deployment/roll", "VERSION=2"]);
  expect(update.minSeen).toBeGreaterThanOrEqual(REPLICAS - MAX_UNAVAILABLE);

  const afterUpdate = await replicaSets();
  const second = afterUpdate.find((rs) => rs.name !== first?.name);
  expect(second?.revision).toBe("2");
  expect(second?.replicas).toBe(REPLICAS);
  expect(afterUpdate.find((rs) => rs.name === first?.name)?.replicas).toBe(0);

  const history = await kubectlOk(cluster, ["rollout", "history", "deployment/roll"]);
  expect(history).toMatch(/^1\s/m);
  expect(history).toMatch(/^2\s/m);

  const undo = await rollWhileWatching(["rollout", "undo", "deployment/roll"]);
  expect(undo.minSeen).toBeGreaterThanOrEqual(REPLICAS - MAX_UNAVAILABLE);
  const afterUndo = await waitFor(
    "the first ReplicaSet back at full size as revision 3",
    async () => {
      const sets = await replicaSets();
      const back = sets.find((rs) => rs.name === first?.name);
      return back?.replicas === REPLICAS && back.revision === "3" ? sets : undefined;
    },
  );
  expect(afterUndo.find((rs) => rs.name === second?.name)?.replicas).toBe(0);
  const env = await kubectlOk(cluster, [
    "get",
    "deployment",
    "roll",
    "-o",
    "jsonpath={.spec.template.spec.containers[0].env[0].value}",
  ]);
  expect(env).toBe("1");
  const historyAfter = await kubectlOk(cluster, ["rollout", "history", "deployment/roll"]);
  expect(historyAfter).toMatch(/^2\s/m);
  expect(historyAfter).toMatch(/^3\s/m);
  expect(historyAfter).not.toMatch(/^1\s/m); // revision 1 became 3
}, 240_000);
