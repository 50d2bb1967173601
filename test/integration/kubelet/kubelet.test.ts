/**
 * The kubelet against a real 3-server cluster, running real processes (DESIGN §7): it registers
 * its Node and renews its Lease; runs a pod bound to it (bosun/echo answers HTTP on its pod IP);
 * a crashing container reaches CrashLoopBackOff; a failing httpGet liveness probe restarts the
 * container; deleting a pod kills its process group and removes the object. Every process the
 * test starts is killed in afterAll, even on failure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asObject, type JsonObject } from "../../../actors/api/json.ts";
import { ApiClient } from "../../../actors/client/api-client.ts";
import { type KubeletHandle, startKubelet } from "../../../actors/kubelet/kubelet.ts";
import { PodIpAllocator } from "../../../actors/kubelet/pod-ip-allocator.ts";
import { isGroupAlive, killGroup } from "../../../actors/kubelet/process-identity.ts";
import type { ProcessRuntime } from "../../../actors/kubelet/process-runtime.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

const NODE = "kubelet-it-node";
const NS = "default";

type Pod = JsonObject & {
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      state: Record<string, { reason?: string }>;
      lastState: Record<string, { exitCode?: number }>;
      containerID?: string;
    }[];
  };
};

function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => {
        text += d.toString();
      });
      res.on("end", () => resolve(text));
    });
    req.on("error", reject);
    req.setTimeout(2_000, () => req.destroy(new Error("timeout")));
  });
}

describe("kubelet on a real cluster", () => {
  let cluster: LocalCluster;
  let api: ApiClient;
  let kubelet: KubeletHandle;
  let rootDir: string;
  const pids = new Set<number>();

  const getPod = (name: string) => api.get("pods", name, { namespace: NS }) as Promise<Pod>;
  const pidOf = (name: string) => {
    const runtime = kubelet.runtime as ProcessRuntime;
    const summary = kubelet.pods().find((p) => p.name === name);
    const handle = runtime.runningHandles().find((h) => h.podUid === summary?.uid);
    if (handle) pids.add(handle.pid);
    return handle?.pid;
  };

  beforeAll(async () => {
    rootDir = mkdtempSync(join(tmpdir(), "bosun-kubelet-"));
    cluster = await LocalCluster.start(3);
    const client = await cluster.connectClient();
    api = new ApiClient({
      system: client.system,
      servers: () => cluster.cluster.nodes.map((n) => n.id),
    });
    await waitFor("the default namespace", () => api.get("namespaces", NS));
    kubelet = await startKubelet({
      system: client.system,
      api,
      clock: cluster.clock,
      logger: pino({ level: "silent" }),
      nodeName: NODE,
      rootDir,
      podIpAllocator: new PodIpAllocator({
        cidr: "127.201.0.0/16",
        reserved: cluster.cluster.nodes.map((n) => n.host),
      }),
      limits: {
        crashLoopBackoffInitialMs: 200,
        crashLoopBackoffMaxMs: 1_000,
        // the status is looked at on every Lease renewal (1 s); written only on a change
        nodeStatusUpdateIntervalMs: 200,
      },
    });
  });

  afterAll(async () => {
    try {
      await kubelet?.stop();
    } finally {
      for (const pid of pids) killGroup(pid, "SIGKILL");
      api?.close();
      await cluster?.stop();
      rmSync(rootDir, { recursive: true, force: true });
    }
  });

  it("registers its Node (capacity, Ready, addresses, labels) and renews its Lease", async () => {
    const node = await waitFor("the node to be Ready", async () => {
      const n = (await api.get("nodes", NODE)) as JsonObject & {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && n;
    });
    const meta = node.metadata as { labels: Record<string, string> };
    expect(meta.labels["kubernetes.io/hostname"]).toBe(NODE);
    expect(meta.labels["kubernetes.io/os"]).toBe("linux");
    expect(meta.labels["kubernetes.io/arch"]).toBeTruthy();
    const status = node.status as JsonObject & {
      capacity: Record<string, string>;
      addresses: { type: string; address: string }[];
      nodeInfo: { kubeletVersion: string };
    };
    expect(Number(status.capacity.cpu)).toBeGreaterThan(0);
    expect(status.capacity.memory).toMatch(/Ki$/);
    expect(status.addresses).toContainEqual({ type: "InternalIP", address: "127.0.0.1" });
    expect(status.nodeInfo.kubeletVersion).toBeTruthy();

    const renewTime = (l: JsonObject) => String((l.spec as { renewTime: string }).renewTime);
    const first = await waitFor("the lease", () =>
      api.get("leases.coordination.k8s.io", NODE, { namespace: "kube-node-lease" }),
    );
    await waitFor("a renewal", async () => {
      const l = await api.get("leases.coordination.k8s.io", NODE, { namespace: "kube-node-lease" });
      return renewTime(l) !== renewTime(first);
    });
    expect((first.spec as { holderIdentity: string }).holderIdentity).toBe(NODE);
  });

  it("writes its Node's status only when it changed: a controller's Ready=Unknown is put right", async () => {
    const ready = (n: JsonObject) =>
      (asObject(n.status).conditions as JsonObject[] | undefined)?.find((c) => c.type === "Ready");
    const node = await waitFor("the node to be Ready", async () => {
      const n = await api.get("nodes", NODE);
      return ready(n)?.status === "True" && n;
    });
    const version = (n: JsonObject) => String(asObject(n.metadata).resourceVersion);
    // two more renewals, each looking at the status: nothing changed, nothing written
    const renewTime = async () =>
      String(
        asObject(
          (await api.get("leases.coordination.k8s.io", NODE, { namespace: "kube-node-lease" }))
            .spec,
        ).renewTime,
      );
    for (let i = 0; i < 2; i++) {
      const before = await renewTime();
      await waitFor("a renewal", async () => (await renewTime()) !== before);
    }
    expect(version(await api.get("nodes", NODE))).toBe(version(node));
    // what the node lifecycle controller writes when the Lease stops
    await api.patch(
      "nodes",
      NODE,
      "merge",
      {
        status: { conditions: [{ type: "Ready", status: "Unknown", reason: "NodeStatusUnknown" }] },
      },
      { subresource: "status" },
    );
    await waitFor("Ready=True again", async () => {
      const n = await api.get("nodes", NODE);
      return ready(n)?.status === "True" && ready(n)?.reason === "KubeletReady";
    });
  });

  it("runs a bosun/echo pod: Running and Ready with a pod IP, answers HTTP there, logs it", async () => {
    await api.create("pods", {
      metadata: { name: "web", namespace: NS },
      spec: {
        nodeName: NODE,
        containers: [{ name: "echo", image: "nginx", ports: [{ containerPort: 8080 }] }],
      },
    });
    const pod = await waitFor("web to be Ready", async () => {
      const p = await getPod("web");
      return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && p;
    });
    expect(pod.status?.phase).toBe("Running");
    const ip = String(pod.status?.podIP);
    expect(ip).toMatch(/^127\.201\./);
    const answer = await waitFor("an HTTP answer", () => httpText(`http://${ip}:8080/`));
    expect(answer.trim()).toBe("web");
    const logs = await waitFor("logs with the request", async () => {
      const text = await kubelet.logs(NS, "web", "echo");
      return text.includes("GET /") && text;
    });
    expect(logs).toContain(`listening on ${ip}:8080`);
    // the same through the kubelet actor, as the API server's pods/log will ask
    const system = cluster.client!.system;
    const viaActor = await system.ask<{ text: string; nextByte: number }>(
      system.address("test"),
      system.address("kubelet"),
      "kubelet.logs",
      { namespace: NS, pod: "web" },
    );
    expect(viaActor.text).toContain("GET /");
    pidOf("web");
  });

  it("a container that exits 1 reaches CrashLoopBackOff with a growing restartCount", async () => {
    await api.create("pods", {
      metadata: { name: "crasher", namespace: NS },
      spec: {
        nodeName: NODE,
        containers: [{ name: "sh", image: "bosun/sh", args: ["echo boom; exit 1"] }],
      },
    });
    const pod = await waitFor("CrashLoopBackOff after restarts", async () => {
      const p = await getPod("crasher");
      const c = p.status?.containerStatuses?.[0];
      return c?.state.waiting?.reason === "CrashLoopBackOff" && c.restartCount >= 2 && p;
    });
    expect(pod.status?.containerStatuses?.[0]?.lastState.terminated?.exitCode).toBe(1);
    expect(await kubelet.logs(NS, "crasher", "sh", { previous: true })).toContain("boom");
  });

  it("an unknown image waits in ErrImagePull / ImagePullBackOff", async () => {
    await api.create("pods", {
      metadata: { name: "noimage", namespace: NS },
      spec: { nodeName: NODE, containers: [{ name: "c", image: "example.com/nope:1" }] },
    });
    const reason = await waitFor("an image pull error", async () => {
      const r = (await getPod("noimage")).status?.containerStatuses?.[0]?.state.waiting?.reason;
      return (r === "ImagePullBackOff" || r === "ErrImagePull") && r;
    });
    expect(["ErrImagePull", "ImagePullBackOff"]).toContain(reason);
    expect((await getPod("noimage")).status?.phase).toBe("Pending");
  });

  it("a failing httpGet liveness probe restarts the container", async () => {
    await api.create("pods", {
      metadata: { name: "sick", namespace: NS },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: "echo",
            image: "bosun/echo",
            env: [
              { name: "PORT", value: "8081" },
              { name: "ECHO_UNHEALTHY", value: "1" },
            ],
            livenessProbe: {
              httpGet: { path: "/healthz", port: 8081 },
              periodSeconds: 1,
              failureThreshold: 2,
            },
          },
        ],
      },
    });
    await waitFor(
      "a liveness restart",
      async () => {
        pidOf("sick");
        const c = (await getPod("sick")).status?.containerStatuses?.[0];
        return (c?.restartCount ?? 0) >= 1;
      },
      45_000,
    );
  });

  it("deleting a pod kills its process group and removes the object", async () => {
    const pid = await waitFor("web's pid", () => pidOf("web"));
    expect(isGroupAlive(pid)).toBe(true);
    // a deletionTimestamp (set here through a finalizer, as graceful deletion would) makes the
    // kubelet terminate the pod and delete the object itself
    await api.patch(
      "pods",
      "web",
      "merge",
      { metadata: { finalizers: ["bosun.io/test"] } },
      {
        namespace: NS,
      },
    );
    await api.delete("pods", "web", { namespace: NS });
    await waitFor("the process group to be gone", () => !isGroupAlive(pid));
    await api
      .patch("pods", "web", "merge", { metadata: { finalizers: null } }, { namespace: NS })
      .catch(() => {});
    await waitFor("the pod object to be gone", async () => {
      try {
        await getPod("web");
        return false;
      } catch {
        return true;
      }
    });

    // a pod deleted outright is terminated too
    const sickPid = await waitFor("sick's pid", () => pidOf("sick"));
    await api.delete("pods", "sick", { namespace: NS });
    await waitFor("sick's process group to be gone", () => !isGroupAlive(sickPid));
  });

  it("leaves no processes behind when it stops", async () => {
    const runtime = kubelet.runtime as ProcessRuntime;
    const running = runtime.runningHandles().map((h) => h.pid);
    for (const pid of running) pids.add(pid);
    await kubelet.stop();
    for (const pid of pids) expect(isGroupAlive(pid)).toBe(false);
  });
});
