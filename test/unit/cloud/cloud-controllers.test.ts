/**
 * The cloud controllers against the in-memory API under a ManualClock, with the real local
 * provider on a temp directory: the service controller (finalizer, ingress, condition, Events,
 * node-set changes, cleanup, loadBalancerClass left alone), the cloud node controller (taint
 * off, providerID and topology labels on), the cloud node lifecycle controller (shutdown taint,
 * terminated instance → Node deleted) and the route controller.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import type { CloudContext } from "../../../actors/cloud/cloud-controller.ts";
import { cloudControllers } from "../../../actors/cloud/cloud-controllers.ts";
import { UNINITIALIZED_TAINT } from "../../../actors/cloud/cloud-node-controller.ts";
import { LocalCloudState } from "../../../actors/cloud/local/local-cloud-state.ts";
import { LocalCloudProvider } from "../../../actors/cloud/local/local-provider.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi } from "../controllers/fake-api.ts";
import { run, startControllers } from "../controllers/service-fixtures.ts";

let dir: string;
let state: LocalCloudState;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bosun-cloud-"));
  state = new LocalCloudState(dir);
  state.writeConfig({ pool: "127.240.9.0/30" });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function nodeObject(name: string, ready = true, extra: JsonObject = {}): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    spec: { podCIDR: `127.201.${name.slice(1)}.0/24`, ...extra },
    status: {
      addresses: [{ type: "InternalIP", address: `127.0.0.1${name.slice(1)}` }],
      conditions: [{ type: "Ready", status: ready ? "True" : "Unknown" }],
    },
  };
}

function lbService(name: string, spec: JsonObject = {}): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: {
      type: "LoadBalancer",
      ports: [{ protocol: "TCP", port: 80, nodePort: 30080 + name.length }],
      ...spec,
    },
  };
}

async function setup(nodes: JsonObject[]) {
  const api = new FakeApi();
  const clock = new ManualClock();
  for (const n of nodes) await api.create("nodes", n);
  const cloud: CloudContext = {
    provider: new LocalCloudProvider(state),
    clusterName: "test",
    postEvent: (event) => {
      api.create("events", event, { namespace: "default" }).catch(() => undefined);
    },
  };
  const runtime = startControllers(api, clock, cloudControllers(cloud));
  await run(clock, 100);
  const svc = (name: string) => api.get("services", name, { namespace: "default" });
  const events = () =>
    api
      .all("events", "default")
      .map((e) => `${(e.involvedObject as JsonObject).name} ${e.type} ${e.reason}`);
  return { api, clock, svc, events, stop: runtime.stop };
}

const ingressOf = (svc: JsonObject) =>
  ((svc.status as JsonObject)?.loadBalancer as JsonObject)?.ingress as JsonObject[] | undefined;
const conditionOf = (svc: JsonObject) =>
  (((svc.status as JsonObject)?.conditions ?? []) as JsonObject[]).find(
    (c) => c.type === "LoadBalancerReady",
  );

describe("service controller", () => {
  it("a LoadBalancer Service gets the finalizer, an ingress IP, the condition and Events", async () => {
    const t = await setup([nodeObject("n1"), nodeObject("n2")]);
    await t.api.create("services", lbService("web"), { namespace: "default" });
    await run(t.clock, 200);
    const svc = await t.svc("web");
    expect((svc.metadata as JsonObject).finalizers).toEqual([
      "service.kubernetes.io/load-balancer-cleanup",
    ]);
    expect(ingressOf(svc)).toEqual([
      { ip: "127.240.9.1", ipMode: "VIP", ports: [{ port: 80, protocol: "TCP" }] },
    ]);
    expect(conditionOf(svc)).toMatchObject({ status: "True", reason: "Provisioned" });
    expect(t.events()).toEqual([
      "web Normal EnsuringLoadBalancer",
      "web Normal EnsuredLoadBalancer",
    ]);
    expect(state.loadBalancers()[0]?.backends.map((b) => b.node)).toEqual(["n1", "n2"]);
    t.stop();
  });

  it("follows node-set changes: a node not Ready leaves the backends, a new one joins", async () => {
    const t = await setup([nodeObject("n1"), nodeObject("n2")]);
    await t.api.create("services", lbService("web"), { namespace: "default" });
    await run(t.clock, 200);
    const n2 = await t.api.get("nodes", "n2");
    await t.api.update(
      "nodes",
      { ...n2, status: nodeObject("n2", false).status as JsonObject },
      { subresource: "status" },
    );
    await t.api.create("nodes", nodeObject("n3"));
    await run(t.clock, 200);
    expect(state.loadBalancers()[0]?.backends.map((b) => b.node)).toEqual(["n1", "n3"]);
    t.stop();
  });

  it("pool exhausted: condition False with the reason, one Warning Event; retried until an address is free", async () => {
    const t = await setup([nodeObject("n1")]);
    for (const name of ["a", "b", "c"])
      await t.api.create("services", lbService(name), { namespace: "default" });
    await run(t.clock, 3_000);
    const c = await t.svc("c");
    expect(ingressOf(c) ?? []).toEqual([]);
    expect(conditionOf(c)).toMatchObject({ status: "False", reason: "ExternalIPPoolExhausted" });
    expect(String(conditionOf(c)?.message)).toContain("127.240.9.0/30");
    expect(t.events().filter((e) => e === "c Warning SyncLoadBalancerFailed")).toHaveLength(1);
    await t.api.delete("services", "a", { namespace: "default" });
    await run(t.clock, 3_000);
    expect(ingressOf(await t.svc("c"))?.[0]?.ip).toBe("127.240.9.1");
    expect(conditionOf(await t.svc("c"))).toMatchObject({ status: "True" });
    t.stop();
  });

  it("deleted: the load balancer goes, then the finalizer, then the Service", async () => {
    const t = await setup([nodeObject("n1")]);
    await t.api.create("services", lbService("web"), { namespace: "default" });
    await run(t.clock, 200);
    expect(state.loadBalancers()).toHaveLength(1);
    await t.api.delete("services", "web", { namespace: "default" });
    await run(t.clock, 200);
    expect(state.loadBalancers()).toEqual([]);
    await expect(t.svc("web")).rejects.toThrow(/not found/);
    expect(t.events()).toContain("web Normal DeletedLoadBalancer");
    t.stop();
  });

  it("type changed to ClusterIP: load balancer deleted, status cleared, finalizer removed", async () => {
    const t = await setup([nodeObject("n1")]);
    await t.api.create("services", lbService("web"), { namespace: "default" });
    await run(t.clock, 200);
    const svc = await t.svc("web");
    await t.api.update(
      "services",
      { ...svc, spec: { ...(svc.spec as JsonObject), type: "ClusterIP" } },
      { namespace: "default" },
    );
    await run(t.clock, 200);
    const after = await t.svc("web");
    expect(state.loadBalancers()).toEqual([]);
    expect(ingressOf(after) ?? []).toEqual([]);
    expect((after.metadata as JsonObject).finalizers ?? []).toEqual([]);
    t.stop();
  });

  it("a Service with a loadBalancerClass is another controller's: left alone", async () => {
    const t = await setup([nodeObject("n1")]);
    await t.api.create("services", lbService("other", { loadBalancerClass: "example.com/lb" }), {
      namespace: "default",
    });
    await run(t.clock, 200);
    const svc = await t.svc("other");
    expect((svc.metadata as JsonObject).finalizers).toBeUndefined();
    expect(state.loadBalancers()).toEqual([]);
    t.stop();
  });
});

describe("cloud node controllers", () => {
  it("an uninitialized node gets providerID, instance type, zone and region; the taint goes", async () => {
    state.putInstance({ id: "n1", pid: process.pid, startTicks: null, address: "127.0.0.11" });
    const t = await setup([nodeObject("n1", true, { taints: [{ ...UNINITIALIZED_TAINT }] })]);
    await run(t.clock, 200);
    const node = await t.api.get("nodes", "n1");
    expect((node.spec as JsonObject).providerID).toBe("local://n1");
    expect((node.spec as JsonObject).taints).toBeUndefined();
    expect((node.metadata as JsonObject).labels).toMatchObject({
      "node.kubernetes.io/instance-type": "bosun.process",
      "topology.kubernetes.io/zone": "local-n1",
      "topology.kubernetes.io/region": "local",
    });
    t.stop();
  });

  it("an uninitialized node without an instance keeps its taint (retried)", async () => {
    const t = await setup([nodeObject("n4", true, { taints: [{ ...UNINITIALIZED_TAINT }] })]);
    await run(t.clock, 500);
    expect(((await t.api.get("nodes", "n4")).spec as JsonObject).taints).toHaveLength(1);
    t.stop();
  });

  it("a NotReady node whose process is gone gets the shutdown taint; terminated, its Node is deleted", async () => {
    // pid 2^22+1 is above Linux's pid_max: no such process
    state.putInstance({ id: "n2", pid: 4_194_305, startTicks: null, address: "127.0.0.12" });
    const t = await setup([nodeObject("n2", false, { providerID: "local://n2" })]);
    await run(t.clock, 200);
    const taints = ((await t.api.get("nodes", "n2")).spec as JsonObject).taints as JsonObject[];
    expect(taints.map((x) => `${x.key}:${x.effect}`)).toEqual([
      "node.cloudprovider.kubernetes.io/shutdown:NoSchedule",
    ]);
    state.deleteInstance("n2");
    await run(t.clock, 2_500);
    await expect(t.api.get("nodes", "n2")).rejects.toThrow(/not found/);
    t.stop();
  });

  it("a NotReady node the cloud never initialized (no providerID) is not the cloud's: kept", async () => {
    const t = await setup([nodeObject("hollow-1", false)]);
    await run(t.clock, 2_500);
    const node = await t.api.get("nodes", "hollow-1");
    expect((node.spec as JsonObject).taints).toBeUndefined();
    t.stop();
  });

  it("a Ready node is not asked about and loses a shutdown taint", async () => {
    const t = await setup([
      nodeObject("n1", true, {
        providerID: "local://n1",
        taints: [{ key: "node.cloudprovider.kubernetes.io/shutdown", effect: "NoSchedule" }],
      }),
    ]);
    await run(t.clock, 200);
    expect(((await t.api.get("nodes", "n1")).spec as JsonObject).taints).toBeUndefined();
    t.stop();
  });

  it("routes: one per node's pod CIDR, removed with the node", async () => {
    const t = await setup([nodeObject("n1"), nodeObject("n2")]);
    await run(t.clock, 200);
    const routes = () =>
      state
        .routes()
        .map((r) => `${r.targetNode} ${r.destinationCIDR}`)
        .sort();
    expect(routes()).toEqual(["n1 127.201.1.0/24", "n2 127.201.2.0/24"]);
    await t.api.delete("nodes", "n2");
    await run(t.clock, 200);
    expect(routes()).toEqual(["n1 127.201.1.0/24"]);
    t.stop();
  });
});
