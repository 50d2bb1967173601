/**
 * The scheduler against a real 3-server cluster (DESIGN §7), run in the test process on a
 * ClientNode: Node objects made through the API, pods placed by resources, node selector,
 * node affinity, pod anti-affinity and taints; an unschedulable pod gets PodScheduled=False and
 * a FailedScheduling event; a pod naming another scheduler waits for that one.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asArray, asObject, asString, type JsonObject } from "../../../actors/api/json.ts";
import { ApiClient } from "../../../actors/client/api-client.ts";
import { type SchedulerHandle, startScheduler } from "../../../actors/scheduler/scheduler.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

const NS = "default";

function nodeObject(
  name: string,
  labels: Record<string, string>,
  taints: JsonObject[] = [],
): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
    spec: taints.length > 0 ? { taints } : {},
    status: {
      capacity: { cpu: "2", memory: "4Gi", pods: "110" },
      allocatable: { cpu: "2", memory: "4Gi", pods: "110" },
    },
  };
}

function podObject(
  name: string,
  spec: JsonObject = {},
  labels: Record<string, string> = {},
  cpu = "100m",
): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels },
    spec: {
      containers: [
        { name: "c", image: "busybox", resources: { requests: { cpu, memory: "64Mi" } } },
      ],
      ...spec,
    },
  };
}

describe("the scheduler on a 3-server cluster", () => {
  let cluster: LocalCluster;
  let api: ApiClient;
  const schedulers: SchedulerHandle[] = [];

  const nodeOf = async (name: string) =>
    asString(asObject((await api.get("pods", name, { namespace: NS })).spec).nodeName);
  const boundTo = (name: string) =>
    waitFor(`pod ${name} bound`, async () => (await nodeOf(name)) || undefined, 30_000);

  beforeAll(async () => {
    cluster = await LocalCluster.start(3);
    const client = await cluster.connectClient();
    api = new ApiClient({
      system: client.system,
      servers: () => cluster.cluster.nodes.map((n) => n.id),
    });
    await waitFor("the default namespace", () => api.get("namespaces", "default"));
    await api.create("nodes", nodeObject("worker-1", { zone: "a", disk: "ssd" }));
    await api.create("nodes", nodeObject("worker-2", { zone: "b" }));
    await api.create(
      "nodes",
      nodeObject("worker-3", { zone: "c" }, [
        { key: "dedicated", value: "gpu", effect: "NoSchedule" },
      ]),
    );
    schedulers.push(
      startScheduler({
        system: client.system,
        api,
        clock: client.system.clock,
        logger: pino({ level: "silent" }),
      }),
    );
  });

  afterAll(async () => {
    for (const s of schedulers) s.stop();
    api?.close();
    await cluster?.stop();
  });

  it("places by node selector, required node affinity and toleration", async () => {
    await api.create("pods", podObject("on-ssd", { nodeSelector: { disk: "ssd" } }));
    await api.create(
      "pods",
      podObject("in-zone-b", {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] },
              ],
            },
          },
        },
      }),
    );
    await api.create(
      "pods",
      podObject("gpu-job", {
        nodeSelector: { zone: "c" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
      }),
    );
    expect(await boundTo("on-ssd")).toBe("worker-1");
    expect(await boundTo("in-zone-b")).toBe("worker-2");
    expect(await boundTo("gpu-job")).toBe("worker-3");
    const scheduled = await waitFor("the Scheduled event", async () => {
      const events = await api.list({ resource: "events", namespace: NS });
      return events.items.find(
        (e) => asObject(e.involvedObject).name === "gpu-job" && e.reason === "Scheduled",
      );
    });
    expect(scheduled.message).toBe("Successfully assigned default/gpu-job to worker-3");
  });

  it("spreads required anti-affinity pods over hostnames, never onto the tainted node", async () => {
    const anti = {
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              labelSelector: { matchLabels: { app: "web" } },
              topologyKey: "kubernetes.io/hostname",
            },
          ],
        },
      },
    };
    await api.create("pods", podObject("web-1", anti, { app: "web" }));
    await api.create("pods", podObject("web-2", anti, { app: "web" }));
    const nodes = new Set([await boundTo("web-1"), await boundTo("web-2")]);
    expect(nodes).toEqual(new Set(["worker-1", "worker-2"]));
  });

  it("leaves a pod it cannot place Pending, with PodScheduled=False and a FailedScheduling event", async () => {
    await api.create("pods", podObject("too-big", {}, {}, "3"));
    const condition = await waitFor("PodScheduled=False", async () => {
      const p = await api.get("pods", "too-big", { namespace: NS });
      return asArray(asObject(p.status).conditions)
        .map(asObject)
        .find((c) => c.type === "PodScheduled" && c.status === "False");
    });
    expect(condition.reason).toBe("Unschedulable");
    expect(condition.message).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.",
    );
    const event = await waitFor("the FailedScheduling event", async () => {
      const events = await api.list({ resource: "events", namespace: NS });
      return events.items.find(
        (e) => asObject(e.involvedObject).name === "too-big" && e.reason === "FailedScheduling",
      );
    });
    expect(event.type).toBe("Warning");
    expect(event.message).toBe(condition.message);
    expect(asObject(event.involvedObject).kind).toBe("Pod");
    expect(await nodeOf("too-big")).toBe("");
  });

  it("leaves a pod for another scheduler alone until a scheduler of that name binds it", async () => {
    await api.create(
      "pods",
      podObject("custom", { schedulerName: "other", nodeSelector: { zone: "b" } }),
    );
    // the default scheduler has seen it (a later pod of its own is placed) and left it pending
    await api.create("pods", podObject("marker", { nodeSelector: { zone: "a" } }));
    expect(await boundTo("marker")).toBe("worker-1");
    expect(await nodeOf("custom")).toBe("");
    const client = cluster.client;
    if (!client) throw new Error("no client");
    schedulers.push(
      startScheduler({
        system: client.system,
        api,
        clock: client.system.clock,
        logger: pino({ level: "silent" }),
        schedulerName: "other",
      }),
    );
    expect(await boundTo("custom")).toBe("worker-2");
    const event = await waitFor("the other scheduler's event", async () => {
      const events = await api.list({ resource: "events", namespace: NS });
      return events.items.find(
        (e) => asObject(e.involvedObject).name === "custom" && e.reason === "Scheduled",
      );
    });
    expect(asObject(event.source).component).toBe("other");
  });
});
