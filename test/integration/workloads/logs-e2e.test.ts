import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { exited } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { apiRequest, kubectl, kubectlOk, spawnKubectl } from "../apiserver/kubectl-harness.ts";
import { waitForReadyNodes } from "./workload-harness.ts";

/**
 * `kubectl logs` through the API server with the built-in workloads of `bosun up`: the API server
 * asks the kubelet of the pod's node over the mesh. `-f` streams lines the container writes
 * after kubectl started following, and ends when the container exits; a kubectl that goes away
 * frees its follower slot on the kubelet (no poll left behind); `--previous` shows the attempt
 * before a restart (and says so, as Kubernetes does, when there is none); `--tail` and
 * `--limit-bytes` cut the log; a pod of two containers needs a container name (400).
 */
let cluster: LocalCluster;
const children: ChildProcess[] = [];

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
  await waitForReadyNodes(cluster, 3);
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await cluster?.stop();
});

type Json = Record<string, unknown>;

function shPod(name: string, script: string, extra: Json = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { containers: [{ name: "sh", image: "bosun/sh", args: [script] }], ...extra },
  });
}

async function pod(name: string): Promise<Json> {
  return JSON.parse(await kubectlOk(cluster, ["get", "pod", name, "-o", "json"])) as Json;
}

async function containerStatus(name: string): Promise<{ restartCount: number; state: Json }> {
  const status = (await pod(name)).status as { containerStatuses?: Json[] };
  const c = status.containerStatuses?.[0] as { restartCount: number; state: Json } | undefined;
  return c ?? { restartCount: 0, state: {} };
}

const numbered = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("line "))
    .map((l) => Number(l.slice(5)));

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The kubelet's count of followed logs on `node`, asked over the mesh. */
async function followersOn(node: string): Promise<number> {
  const client = cluster.client ?? (await cluster.connectClient());
  const reply = await client.system.ask<{ count: number }>(
    client.system.address("test"),
    `${node}/kubelet`,
    "kubelet.followers",
    null,
  );
  return reply.count;
}

it("kubectl logs -f streams the lines written after it started, and frees its slot when it goes away; --tail and --limit-bytes cut", async () => {
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    shPod("ticker", 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done'),
  );
  await waitFor("ticker Running with a few lines", async () => {
    const lines = numbered(await kubectlOk(cluster, ["logs", "ticker"]));
    return lines.length >= 3;
  });
  const node = String(((await pod("ticker")).spec as Json).nodeName);

  const before = numbered(await kubectlOk(cluster, ["logs", "ticker"]));
  const last = before.at(-1) ?? 0;
  const follower = spawnKubectl(cluster, ["logs", "-f", "ticker"]);
  children.push(follower.child);
  const target = last + 8;
  await waitFor(`kubectl logs -f to show line ${target}`, () =>
    numbered(follower.output()).includes(target),
  );
  expect(await followersOn(node)).toBe(1);
  follower.child.kill("SIGKILL");
  await exited(follower.child);
  // every line once, in order: what was there, then what came after following began
  const seen = numbered(follower.output());
  expect(seen.slice(0, target)).toEqual(range(1, target));
  expect(seen.some((n) => n > last)).toBe(true);
  // the API server notices the client is gone and frees the slot at once (an abandoned slot
  // would only expire after the kubelet's logFollowerIdleMs, 15 s)
  await waitFor("the follower slot freed", async () => (await followersOn(node)) === 0, 5_000);

  const tail = numbered(await kubectlOk(cluster, ["logs", "ticker", "--tail=2"]));
  expect(tail).toHaveLength(2);
  expect(tail[1]! - tail[0]!).toBe(1);
  expect(await kubectlOk(cluster, ["logs", "ticker", "--limit-bytes=7"])).toBe("line 1\n");

  const previous = await kubectl(cluster, ["logs", "ticker", "--previous"]);
  expect(previous.code).not.toBe(0);
  expect(previous.stderr).toContain('previous terminated container "sh" in pod "ticker" not found');
});

it("kubectl logs -f ends when the container exits", async () => {
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    shPod("short", "echo first; sleep 2; echo last", { restartPolicy: "Never" }),
  );
  await waitFor("short to run", async () =>
    (await kubectl(cluster, ["logs", "short"])).stdout.includes("first"),
  );
  const follower = spawnKubectl(cluster, ["logs", "-f", "short"]);
  children.push(follower.child);
  await exited(follower.child);
  expect(follower.child.exitCode).toBe(0);
  expect(follower.output()).toBe("first\nlast\n");
});

it("kubectl logs --previous shows the attempt before a restart", async () => {
  // an emptyDir outlives the container's attempts (its own files do not: a restarted container
  // starts from its image again), so the second run sees the first's file
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "restarter" },
      spec: {
        volumes: [{ name: "state", emptyDir: {} }],
        containers: [
          {
            name: "sh",
            image: "bosun/sh",
            args: [
              "if [ -f /state/ran ]; then echo second run; sleep 1000; else touch /state/ran; echo first run; exit 1; fi",
            ],
            volumeMounts: [{ name: "state", mountPath: "/state" }],
          },
        ],
      },
    }),
  );
  await waitFor(
    "restarter running again after its restart",
    async () => {
      const c = await containerStatus("restarter");
      return c.restartCount >= 1 && c.state.running !== undefined;
    },
    60_000,
  );
  expect(await kubectlOk(cluster, ["logs", "restarter", "--previous"])).toBe("first run\n");
  expect(await kubectlOk(cluster, ["logs", "restarter"])).toBe("second run\n");
});

it("a pod of two containers needs a container name (400, Kubernetes' message)", async () => {
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "pair" },
      spec: {
        containers: [
          { name: "a", image: "bosun/pause" },
          { name: "b", image: "bosun/pause" },
        ],
      },
    }),
  );
  const r = await apiRequest(cluster, "GET", "/api/v1/namespaces/default/pods/pair/log");
  expect(r.code).toBe(400);
  expect(JSON.parse(r.text).message).toBe(
    "a container name must be specified for pod pair, choose one of: [a b]",
  );
});
