/**
 * Writes that start from the watch cache's copy (kube-apiserver's GuaranteedUpdate with the
 * cacher's suggestion): the copy may lag the store, and whatever it is, the answer must be the
 * one a linearizable read would have given. The store here hands out a deep-frozen copy that
 * is one or more writes old (a lagging cache), so a handler that trusted it, or changed it,
 * fails these tests.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import type { StoredObject } from "../../../actors/apiserver/object-store.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { type RestCall, restCaller } from "./rest-harness.ts";

const NOW_MS = Date.parse("2024-05-01T10:00:00Z");

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A memory store whose watch cache is as of `freeze()`: its suggestions stay that old. */
class LaggingCacheStore extends MemoryObjectStore {
  private snapshot = new Map<string, StoredObject>();
  suggestions = 0;
  /** Reads of the store itself (what a suggestion saves). */
  reads = 0;

  override async get(key: string): Promise<StoredObject | null> {
    this.reads++;
    return super.get(key);
  }

  async freeze(keys: string[]): Promise<void> {
    this.snapshot = new Map();
    for (const key of keys) {
      const found = await this.get(key);
      if (found) this.snapshot.set(key, deepFreeze(found));
    }
  }

  override suggestion(key: string): StoredObject | null {
    const hit = this.snapshot.get(key);
    if (!hit) return null;
    this.suggestions++;
    return { ...hit, suggested: true };
  }
}

function server() {
  const store = new LaggingCacheStore();
  return { store, call: restCaller(store, new ManualClock(0, NOW_MS)) };
}

/** A JSON merge patch, as `kubectl patch --type merge` sends it. */
const mergePatch = (s: { call: RestCall }, path: string, body: JsonObject) =>
  s.call("PATCH", path, body, "application/merge-patch+json");

const CM = "/api/v1/namespaces/default/configmaps";
const CM_KEY = "/registry/core/configmaps/default/c";
const POD = "/api/v1/namespaces/default/pods";
const POD_KEY = "/registry/core/pods/default/p";
const rv = (o: JsonObject) => (o.metadata as JsonObject).resourceVersion as string;
const data = (o: JsonObject) => o.data as JsonObject;

async function withConfigMap() {
  const s = server();
  await s.call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
  const made = await s.call("POST", CM, { metadata: { name: "c" }, data: { a: "1" } });
  expect(made.code).toBe(201);
  return s;
}

describe("writes from a lagging watch cache's copy", () => {
  it("a fresh copy is used as is: no read of the store", async () => {
    const s = await withConfigMap();
    await s.store.freeze([CM_KEY]);
    const reads = s.store.reads;
    const r = await mergePatch(s, `${CM}/c`, { data: { b: "2" } });
    expect(r.code).toBe(200);
    expect(data(r.body)).toEqual({ a: "1", b: "2" });
    expect(s.store.suggestions).toBe(1);
    expect(s.store.reads).toBe(reads);
  });

  it("an update naming the store's resourceVersion succeeds though the copy is older", async () => {
    const s = await withConfigMap();
    await s.store.freeze([CM_KEY]);
    const moved = await s.call("PUT", `${CM}/c`, { metadata: { name: "c" }, data: { a: "2" } });
    const r = await s.call("PUT", `${CM}/c`, {
      metadata: { name: "c", resourceVersion: rv(moved.body) },
      data: { a: "3" },
    });
    expect(r.code).toBe(200);
    expect(data(r.body)).toEqual({ a: "3" });
    // and one naming the old revision is still a conflict, though the copy has that revision
    const stale = await s.call("PUT", `${CM}/c`, {
      metadata: { name: "c", resourceVersion: rv(moved.body) },
      data: { a: "4" },
    });
    expect(stale.code).toBe(409);
  });

  it("a patch applies to the object as stored, not to the copy", async () => {
    const s = await withConfigMap();
    await s.store.freeze([CM_KEY]);
    await mergePatch(s, `${CM}/c`, { data: { b: "2" } });
    const r = await mergePatch(s, `${CM}/c`, { data: { c: "3" } });
    expect(data(r.body)).toEqual({ a: "1", b: "2", c: "3" });
    expect(data((await s.call("GET", `${CM}/c`)).body)).toEqual({ a: "1", b: "2", c: "3" });
  });

  it("an update that changes nothing on the copy is still written if the store moved on", async () => {
    const s = await withConfigMap();
    await s.store.freeze([CM_KEY]);
    await s.call("PUT", `${CM}/c`, { metadata: { name: "c" }, data: { a: "2" } });
    // the same as the stale copy: a no-op there, a change in the store
    const r = await s.call("PUT", `${CM}/c`, { metadata: { name: "c" }, data: { a: "1" } });
    expect(r.code).toBe(200);
    expect(data((await s.call("GET", `${CM}/c`)).body)).toEqual({ a: "1" });
  });

  it("an object the copy does not have yet is read from the store", async () => {
    const s = server();
    await s.call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
    await s.store.freeze([]);
    await s.call("POST", CM, { metadata: { name: "c" }, data: { a: "1" } });
    const r = await mergePatch(s, `${CM}/c`, { data: { b: "2" } });
    expect(r.code).toBe(200);
  });
});

describe("pods/binding", () => {
  async function withPod() {
    const s = server();
    await s.call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
    const made = await s.call("POST", POD, {
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "bosun/pause" }] },
    });
    expect(made.code).toBe(201);
    return s;
  }
  const bind = (node: string) => ({
    apiVersion: "v1",
    kind: "Binding",
    metadata: { name: "p" },
    target: { apiVersion: "v1", kind: "Node", name: node },
  });

  it("sets spec.nodeName and PodScheduled=True in one write", async () => {
    const s = await withPod();
    await s.store.freeze([POD_KEY]);
    const before = s.store.changes.length;
    expect((await s.call("POST", `${POD}/p/binding`, bind("n1"))).code).toBe(201);
    expect(s.store.changes.length).toBe(before + 1);
    const pod = (await s.call("GET", `${POD}/p`)).body;
    expect((pod.spec as JsonObject).nodeName).toBe("n1");
    const conditions = (pod.status as JsonObject).conditions as JsonObject[];
    expect(conditions.filter((c) => c.type === "PodScheduled")).toEqual([
      {
        type: "PodScheduled",
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: "2024-05-01T10:00:00Z",
      },
    ]);
  });

  it("replaces a PodScheduled=False left by an earlier attempt", async () => {
    const s = await withPod();
    const failed = {
      status: {
        conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
      },
    };
    await s.call("PATCH", `${POD}/p/status`, failed, "application/strategic-merge-patch+json");
    expect((await s.call("POST", `${POD}/p/binding`, bind("n1"))).code).toBe(201);
    const pod = (await s.call("GET", `${POD}/p`)).body;
    const conditions = (pod.status as JsonObject).conditions as JsonObject[];
    expect(conditions.map((c) => [c.type, c.status])).toEqual([["PodScheduled", "True"]]);
  });

  it("a pod bound since the copy was taken is a conflict, and stays on its node", async () => {
    const s = await withPod();
    await s.store.freeze([POD_KEY]); // the copy shows the pod unbound
    expect((await s.call("POST", `${POD}/p/binding`, bind("n1"))).code).toBe(201);
    const second = await s.call("POST", `${POD}/p/binding`, bind("n2"));
    expect(second.code).toBe(409);
    expect(second.body.message).toContain('already assigned to node "n1"');
    const pod = (await s.call("GET", `${POD}/p`)).body;
    expect((pod.spec as JsonObject).nodeName).toBe("n1");
  });
});
