import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";

/** What the workload end-to-end tests read of a pod, through the real kubectl. */
export interface PodView {
  name: string;
  node: string;
  ip: string;
  phase: string;
  ready: boolean;
}

export async function podsOf(cluster: LocalCluster, selector: string): Promise<PodView[]> {
  const out = await kubectlOk(cluster, ["get", "pods", "-l", selector, "-o", "json"]);
  return (JSON.parse(out).items as Record<string, Record<string, unknown>>[]).map((p) => {
    const status = p.status as {
      phase?: string;
      podIP?: string;
      conditions?: { type: string; status: string }[];
    };
    return {
      name: String((p.metadata as { name: string }).name),
      node: String((p.spec as { nodeName?: string }).nodeName ?? ""),
      ip: status.podIP ?? "",
      phase: status.phase ?? "",
      ready: status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    };
  });
}

/** `bosun up` of 3 servers with the built-in workloads, once every node is Ready. */
export async function startWorkloadCluster(): Promise<LocalCluster> {
  const cluster = await LocalCluster.start(3, [], true);
  try {
    await waitForReadyNodes(cluster, 3);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Waits until `count` nodes report Ready (their kubelets registered). */
/**
 * Waits until `count` nodes are Ready and initialized: the cloud node controller has removed the
 * `node.cloudprovider.kubernetes.io/uninitialized` taint, which keeps pods off a node until then.
 */
export async function waitForReadyNodes(cluster: LocalCluster, count: number): Promise<void> {
  await waitFor(
    `${count} Ready, initialized nodes`,
    async () => {
      const out = await kubectlOk(cluster, [
        "get",
        "nodes",
        "-o",
        'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}{"\\n"}{end}',
      ]);
      return (
        out
          .split("\n")
          .filter(
            (l) =>
              l.startsWith("True") && !l.includes("node.cloudprovider.kubernetes.io/uninitialized"),
          ).length === count
      );
    },
    60_000,
  );
}

/** `kubectl create deployment NAME` of bosun's echo server; resolves with its pods once all are Running and Ready. */
export async function runEchoDeployment(
  cluster: LocalCluster,
  name: string,
  replicas: number,
): Promise<PodView[]> {
  await kubectlOk(cluster, [
    "create",
    "deployment",
    name,
    "--image=bosun/echo",
    `--replicas=${replicas}`,
    "--port=8080",
  ]);
  return waitFor(
    `${replicas} pods Running and Ready`,
    async () => {
      const all = await podsOf(cluster, `app=${name}`);
      const ok =
        all.length === replicas && all.every((p) => p.phase === "Running" && p.ready && p.ip);
      return ok ? all : undefined;
    },
    60_000,
  );
}

/** One event of a raw pod watch, as the API server sends it. */
export interface PodWatchEvent {
  type: string;
  object: Record<string, unknown>;
}

/**
 * A raw watch on pods matching `selector` (through the first server's API, with the kubeconfig's
 * CA and token): events are handed over in the order the server sent them, so a reader can
 * replay the pods' states exactly. `stop()` ends the stream.
 */
export function watchPods(
  cluster: LocalCluster,
  selector: string,
  onEvent: (event: PodWatchEvent) => void,
): { stop: () => void } {
  const config = parseYaml(readFileSync(join(cluster.runDir, "kubeconfig"), "utf8"));
  const server = config.clusters[0].cluster;
  const token = config.users[0].user.token as string;
  const url = new URL(
    `/api/v1/namespaces/default/pods?watch=true&labelSelector=${encodeURIComponent(selector)}`,
    server.server,
  );
  let buffered = "";
  const req = httpsRequest(
    url,
    {
      ca: Buffer.from(server["certificate-authority-data"], "base64"),
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    },
    (res) => {
      res.on("data", (d: Buffer) => {
        buffered += d.toString();
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) onEvent(JSON.parse(line) as PodWatchEvent);
          newline = buffered.indexOf("\n");
        }
      });
      res.on("error", () => undefined);
    },
  );
  req.on("error", () => undefined);
  req.end();
  return { stop: () => req.destroy() };
}

/**
 * What a pod's echo server at `ip`:8080 answers (its pod name), or null while nothing answers
 * (poll it with `waitFor(..., async () => (await answer(ip)) ?? undefined)`).
 */
export async function answer(ip: string): Promise<string | null> {
  try {
    const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2_000) });
    return (await res.text()).trim();
  } catch {
    return null;
  }
}
