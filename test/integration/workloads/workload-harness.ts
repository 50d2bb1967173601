import type { LocalCluster } from "../../support/local-cluster.ts";
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

/** Waits until `count` nodes report Ready (their kubelets registered). */
export async function waitForReadyNodes(cluster: LocalCluster, count: number): Promise<void> {
  await waitFor(
    `${count} Ready nodes`,
    async () => {
      const out = await kubectlOk(cluster, ["get", "nodes", "--no-headers"]);
      return out.split("\n").filter((l) => / Ready /.test(l)).length === count;
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
