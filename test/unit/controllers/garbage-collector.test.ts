/**
 * The garbage collector against the in-memory API (which marks and holds objects with
 * finalizers as the API server does): every propagation policy, Kubernetes' `garbagecollector`
 * rules one per test — Orphan drops only the deleted owner's references, Foreground deletes the
 * dependents first (blocking ones before the owner's finalizer goes), Background collects what
 * has lost all its owners.
 */

import { afterEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { EventBroadcaster } from "../../../actors/client/event-recorder.ts";
import { SharedInformers } from "../../../actors/client/shared-informers.ts";
import { runController } from "../../../actors/controllers/controller-runner.ts";
import {
  DependentsIndex,
  GC_RESOURCES,
  garbageCollector,
} from "../../../actors/controllers/garbage-collector.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi, settle } from "./fake-api.ts";

const NS = "default";
const HOLD = "example.com/hold";

type Meta = {
  name: string;
  uid: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: { uid: string; name: string }[];
};
const meta = (o: JsonObject) => o.metadata as unknown as Meta;

interface Owner {
  apiVersion: string;
  kind: string;
  metadata: Meta;
}

function ref(owner: JsonObject, block = true): JsonObject {
  const o = owner as unknown as Owner;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    uid: o.metadata.uid,
    controller: true,
    ...(block ? { blockOwnerDeletion: true } : {}),
  };
}

let stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops) stop();
  stops = [];
});

/** Every collector, as the controller manager runs them. */
function startCollectors(api: FakeApi, clock: ManualClock) {
  const informers = new SharedInformers({ source: api, clock });
  const ctx = { api, cache: informers, clock, events: new EventBroadcaster({ api, clock }) };
  const controllers = GC_RESOURCES.map((r) =>
    runController(garbageCollector(ctx, r), informers, clock),
  );
  informers.start();
  stops.push(() => {
    for (const c of controllers) c.stop();
    informers.stop();
  });
}

async function run(clock: ManualClock, ms = 200, stepMs = 10) {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await settle();
  }
}

/** The order in which objects left the store, as `resource/name`. */
async function recordDeletions(api: FakeApi, resources: string[]): Promise<string[]> {
  const gone: string[] = [];
  for (const resource of resources)
    await api.watch(
      { resource, resourceVersion: String(api.revision) },
      {
        event: (e) => {
          if (e.type === "DELETED") gone.push(`${resource}/${meta(e.object).name}`);
        },
        closed: () => undefined,
      },
    );
  return gone;
}

const names = (objects: JsonObject[]) => objects.map((o) => meta(o).name);

function deployment(api: FakeApi, name: string) {
  return api.create("deployments.apps", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: {},
  });
}

function replicaSet(api: FakeApi, name: string, owners: JsonObject[] = []) {
  return api.create("replicasets.apps", {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name, namespace: NS, ownerReferences: owners },
    spec: {},
  });
}

function pod(api: FakeApi, name: string, owners: JsonObject[], finalizers: string[] = []) {
  return api.create("pods", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: NS,
      ownerReferences: owners,
      ...(finalizers.length ? { finalizers } : {}),
    },
    spec: { containers: [{ name: "c", image: "i" }] },
  });
}

async function dropFinalizers(api: FakeApi, resource: string, name: string) {
  const current = await api.get(resource, name, { namespace: NS });
  await api.update(resource, { ...current, metadata: { ...meta(current), finalizers: [] } });
}

describe("Orphan (the `orphan` finalizer)", () => {
  it("removes only the deleted owner's references, keeps the others, then lets the owner go", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const a = await replicaSet(api, "a");
    const b = await replicaSet(api, "b");
    await pod(api, "only-a", [ref(a)]);
    await pod(api, "a-and-b", [ref(a, false), { ...ref(b), controller: false }]);
    await pod(api, "only-b", [ref(b)]);
    await run(clock);

    const held = await api.delete("replicasets.apps", "a", {
      namespace: NS,
      propagationPolicy: "Orphan",
    });
    expect(meta(held).finalizers).toEqual(["orphan"]);
    expect(meta(held).deletionTimestamp).toBeTruthy();
    await run(clock);

    expect(names(api.all("replicasets.apps", NS))).toEqual(["b"]);
    const pods = new Map(api.all("pods", NS).map((p) => [meta(p).name, meta(p)]));
    expect([...pods.keys()].sort()).toEqual(["a-and-b", "only-a", "only-b"]);
    expect(pods.get("only-a")?.ownerReferences).toBeUndefined();
    expect(pods.get("a-and-b")?.ownerReferences?.map((r) => r.name)).toEqual(["b"]);
    expect(pods.get("only-b")?.ownerReferences?.map((r) => r.uid)).toEqual([meta(b).uid]);
  });
});

describe("Foreground (the `foregroundDeletion` finalizer)", () => {
  it("deletes a Deployment's pods, then its ReplicaSet (itself in Foreground), then the Deployment", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const d = await deployment(api, "web");
    const rs = await replicaSet(api, "web-1", [ref(d)]);
    await pod(api, "web-1-a", [ref(rs)]);
    await pod(api, "web-1-held", [ref(rs)], [HOLD]);
    await run(clock);
    const gone = await recordDeletions(api, ["pods", "replicasets.apps", "deployments.apps"]);

    const held = await api.delete("deployments.apps", "web", {
      namespace: NS,
      propagationPolicy: "Foreground",
    });
    expect(meta(held).finalizers).toEqual(["foregroundDeletion"]);
    await run(clock);

    // a blocking dependent is left (held by its own finalizer): the owners wait, marked
    const dNow = await api.get("deployments.apps", "web", { namespace: NS });
    expect(meta(dNow).deletionTimestamp).toBeTruthy();
    expect(meta(dNow).finalizers).toEqual(["foregroundDeletion"]);
    const rsNow = await api.get("replicasets.apps", "web-1", { namespace: NS });
    expect(meta(rsNow).finalizers).toEqual(["foregroundDeletion"]);
    expect(names(api.all("pods", NS))).toEqual(["web-1-held"]);
    expect(meta(api.all("pods", NS)[0]!).deletionTimestamp).toBeTruthy();
    expect(gone).toEqual(["pods/web-1-a"]);

    await dropFinalizers(api, "pods", "web-1-held");
    await run(clock);
    expect(gone).toEqual([
      "pods/web-1-a",
      "pods/web-1-held",
      "replicasets.apps/web-1",
      "deployments.apps/web",
    ]);
    expect(api.all("deployments.apps", NS)).toEqual([]);
  });

  it("does not wait for dependents without blockOwnerDeletion, though it deletes them too", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const d = await deployment(api, "web");
    await pod(api, "loose", [ref(d, false)], [HOLD]);
    await run(clock);

    await api.delete("deployments.apps", "web", { namespace: NS, propagationPolicy: "Foreground" });
    await run(clock);
    expect(api.all("deployments.apps", NS)).toEqual([]);
    const [loose] = api.all("pods", NS);
    expect(meta(loose!).deletionTimestamp).toBeTruthy(); // deleted, held by its own finalizer
  });

  it("a dependent that another live owner keeps loses only its reference to the waiting owner", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const going = await replicaSet(api, "going");
    const staying = await replicaSet(api, "staying");
    await pod(api, "shared", [ref(going), { ...ref(staying), controller: false }]);
    await run(clock);

    await api.delete("replicasets.apps", "going", {
      namespace: NS,
      propagationPolicy: "Foreground",
    });
    await run(clock);
    expect(names(api.all("replicasets.apps", NS))).toEqual(["staying"]);
    const [shared] = api.all("pods", NS);
    expect(meta(shared!).deletionTimestamp).toBeUndefined();
    expect(meta(shared!).ownerReferences?.map((r) => r.name)).toEqual(["staying"]);
  });
});

describe("Background (the default)", () => {
  it("collects the dependents whose every owner is gone; one with a live owner stays", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const d = await deployment(api, "web");
    const other = await deployment(api, "other");
    const rs = await replicaSet(api, "web-1", [ref(d)]);
    await pod(api, "web-1-a", [ref(rs)]);
    await pod(api, "two-owners", [ref(rs), { ...ref(other), controller: false }]);
    await run(clock);

    const out = await api.delete("deployments.apps", "web", { namespace: NS });
    expect(meta(out).finalizers).toBeUndefined();
    await run(clock);
    expect(api.all("replicasets.apps", NS)).toEqual([]);
    expect(names(api.all("pods", NS))).toEqual(["two-owners"]);
    expect(names(api.all("deployments.apps", NS))).toEqual(["other"]);
  });

  it("an owner named by a reference but recreated with another uid counts as gone", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const first = await deployment(api, "web");
    await api.delete("deployments.apps", "web", { namespace: NS });
    await deployment(api, "web");
    await replicaSet(api, "stale", [ref(first)]);
    await run(clock);
    expect(api.all("replicasets.apps", NS)).toEqual([]);
  });

  it("follows a cluster-scoped owner: a pod owned by a Node goes with it", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    startCollectors(api, clock);
    const node = await api.create("nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n1" },
    });
    await pod(api, "mirror", [ref(node)]);
    await run(clock);
    expect(names(api.all("pods", NS))).toEqual(["mirror"]);
    await api.delete("nodes", "n1");
    await run(clock);
    expect(api.all("pods", NS)).toEqual([]);
  });
});

describe("DependentsIndex", () => {
  it("follows references as they are added, changed and dropped", () => {
    const index = new DependentsIndex();
    const p = (refs: string[]): JsonObject => ({
      metadata: {
        name: "p",
        namespace: NS,
        ownerReferences: refs.map((uid) => ({ apiVersion: "v1", kind: "X", name: uid, uid })),
      },
    });
    index.observe("pods", p(["a", "b"]), "add");
    expect(index.dependentsOf("a")).toEqual([
      { resource: "pods", key: { namespace: NS, name: "p" } },
    ]);
    index.observe("pods", p(["b"]), "update");
    expect(index.dependentsOf("a")).toEqual([]);
    expect(index.dependentsOf("b").length).toBe(1);
    index.observe("pods", p(["b"]), "delete");
    expect(index.dependentsOf("b")).toEqual([]);
  });
});
