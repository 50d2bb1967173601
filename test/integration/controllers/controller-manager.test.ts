/**
 * The controller manager against a real 3-server cluster, run in this process over a client
 * member's ApiClient: a Deployment becomes a ReplicaSet and pods with ownerReferences; it
 * scales; a new image rolls out (pods are marked Ready here, standing in for a kubelet); its
 * deletion garbage-collects everything. Two managers: one leads; killed without releasing, the
 * other takes over.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { ApiClient } from "../../../actors/client/api-client.ts";
import { LEASES } from "../../../actors/client/leader-election.ts";
import {
  type ControllerManagerHandle,
  startControllerManager,
} from "../../../actors/controllers/controller-manager.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

const NS = "default";
const meta = (o: JsonObject) => o.metadata as Record<string, unknown>;
const spec = (o: JsonObject) => o.spec as Record<string, unknown>;
const status = (o: JsonObject) => (o.status ?? {}) as Record<string, unknown>;
const template = (image: string) => ({
  metadata: { labels: { app: "web" } },
  spec: { containers: [{ name: "web", image }] },
});

describe("controller manager on a real cluster", () => {
  let cluster: LocalCluster;
  let api: ApiClient;
  const managers: ControllerManagerHandle[] = [];
  const clients: ApiClient[] = [];

  const newManager = (identity: string) => {
    const client = cluster.client!;
    const own = new ApiClient({
      system: client.system,
      servers: () => cluster.cluster.nodes.map((n) => n.id),
      requestTimeoutMs: 2_000,
    });
    clients.push(own);
    const m = startControllerManager({
      system: client.system,
      api: own,
      identity,
      actorName: `controller-manager-${identity}`,
    });
    managers.push(m);
    return m;
  };

  const pods = async () =>
    (await api.list({ resource: "pods", namespace: NS, labelSelector: "app=web" })).items;
  const replicaSets = async () =>
    (await api.list({ resource: "replicasets.apps", namespace: NS })).items;

  /** A read-modify-write that retries on 409 (the controllers write the same objects). */
  const updateDeployment = (change: (d: JsonObject) => JsonObject) =>
    waitFor("the Deployment update", async () => {
      const d = await api.get("deployments.apps", "web", { namespace: NS });
      try {
        return await api.update("deployments.apps", change(d), { namespace: NS });
      } catch (error) {
        if ((error as { status?: { code?: number } }).status?.code === 409) return undefined;
        throw error;
      }
    });

  /** Stands in for a kubelet: every pod not yet Ready becomes Ready. */
  const markPodsReady = async () => {
    for (const pod of await pods()) {
      if (JSON.stringify(status(pod)).includes('"Ready"')) continue;
      try {
        await api.update(
          "pods",
          {
            ...pod,
            status: {
              ...status(pod),
              phase: "Running",
              conditions: [{ type: "Ready", status: "True" }],
            },
          },
          { namespace: NS, subresource: "status" },
        );
      } catch {
        // deleted or changed meanwhile: the next round sees it again
      }
    }
  };

  beforeAll(async () => {
    cluster = await LocalCluster.start(3);
    const client = await cluster.connectClient();
    api = new ApiClient({
      system: client.system,
      servers: () => cluster.cluster.nodes.map((n) => n.id),
    });
    await waitFor("the default namespace", () => api.get("namespaces", NS));
  });

  afterAll(async () => {
    for (const m of managers) m.kill();
    for (const c of clients) c.close();
    api?.close();
    await cluster?.stop();
  });

  it("two managers: exactly one leads", async () => {
    const a = newManager("a");
    const b = newManager("b");
    await waitFor("a leader", () => a.isLeader() || b.isLeader());
    expect(a.isLeader() && b.isLeader()).toBe(false);
    const lease = await api.get(LEASES, "kube-controller-manager", { namespace: "kube-system" });
    expect([a.isLeader() ? "a" : "b"]).toContain(spec(lease).holderIdentity);
  });

  it("a Deployment → a ReplicaSet and 3 pods owned by it; scale to 5; a new image rolls out", async () => {
    await api.create(
      "deployments.apps",
      {
        metadata: { name: "web" },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: "web" } },
          template: template("nginx:1"),
        },
      },
      { namespace: NS },
    );
    const [rs] = await waitFor("a ReplicaSet", async () => {
      const l = await replicaSets();
      return l.length === 1 ? l : undefined;
    });
    expect(String(meta(rs!).name)).toMatch(/^web-[a-z0-9]+$/);
    expect((meta(rs!).ownerReferences as JsonObject[])[0]).toMatchObject({
      kind: "Deployment",
      name: "web",
      controller: true,
    });
    const three = await waitFor("3 pods", async () => {
      const p = await pods();
      return p.length === 3 ? p : undefined;
    });
    for (const p of three) {
      expect(String(meta(p).name)).toMatch(new RegExp(`^${String(meta(rs!).name)}-[a-z0-9]{5}$`));
      expect((meta(p).ownerReferences as JsonObject[])[0]).toMatchObject({
        kind: "ReplicaSet",
        uid: meta(rs!).uid,
        controller: true,
      });
    }
    await markPodsReady();

    // the controllers write the Deployment's status meanwhile: retry on 409, as kubectl does
    await updateDeployment((d) => ({ ...d, spec: { ...spec(d), replicas: 5 } }));
    await waitFor("5 pods", async () => (await pods()).length === 5);
    await markPodsReady();
    await waitFor("5 available", async () => {
      const cur = await api.get("deployments.apps", "web", { namespace: NS });
      return status(cur).availableReplicas === 5;
    });

    await updateDeployment((d) => ({ ...d, spec: { ...spec(d), template: template("nginx:2") } }));
    const done = await waitFor(
      "the rollout to finish",
      async () => {
        await markPodsReady();
        const cur = await api.get("deployments.apps", "web", { namespace: NS });
        const s = status(cur);
        const finished =
          s.observedGeneration === meta(cur).generation &&
          s.updatedReplicas === 5 &&
          s.replicas === 5 &&
          s.availableReplicas === 5;
        return finished ? cur : undefined;
      },
      60_000,
      100,
    );
    expect(
      (meta(done).annotations as Record<string, string>)["deployment.kubernetes.io/revision"],
    ).toBe("2");
    const rss = await replicaSets();
    expect(rss.length).toBe(2);
    const old = rss.find((r) => meta(r).name === meta(rs!).name)!;
    expect(spec(old).replicas).toBe(0);
    const current = await pods();
    await waitFor("only new pods", async () =>
      (await pods()).every((p) => JSON.stringify(spec(p)).includes("nginx:2")),
    );
    expect(current.length).toBeGreaterThanOrEqual(5);
  });

  it("deleting the Deployment garbage-collects its ReplicaSets and pods", async () => {
    await api.delete("deployments.apps", "web", { namespace: NS });
    await waitFor("no ReplicaSets", async () => (await replicaSets()).length === 0);
    await waitFor("no pods", async () => (await pods()).length === 0);
  });

  it("the active manager dies without releasing: the other takes over", async () => {
    const [a, b] = managers as [ControllerManagerHandle, ControllerManagerHandle];
    const active = a.isLeader() ? a : b;
    const standby = active === a ? b : a;
    const started = cluster.clock.nowMs();
    active.kill();
    await waitFor("the standby to lead", () => standby.isLeader(), 10_000, 10);
    const tookMs = Math.round(cluster.clock.nowMs() - started);
    console.log(`controller-manager takeover after a kill: ${tookMs} ms`);
    // and it works: a ReplicaSet gets its pods
    await api.create(
      "replicasets.apps",
      {
        metadata: { name: "solo" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          template: template("nginx:1"),
        },
      },
      { namespace: NS },
    );
    await waitFor("2 pods from the new leader", async () => (await pods()).length === 2);
    await api.delete("replicasets.apps", "solo", { namespace: NS });
    await waitFor("no pods", async () => (await pods()).length === 0);
  });
});
