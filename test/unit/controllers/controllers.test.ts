/**
 * The ReplicaSet and Deployment controllers, run by the controller runtime (shared informers,
 * work queue, reconcile statechart) against the in-memory API under a ManualClock, plus the
 * pure rollout arithmetic.
 */

import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { EventBroadcaster } from "../../../actors/client/event-recorder.ts";
import { SharedInformers } from "../../../actors/client/shared-informers.ts";
import type { ControllerFactory } from "../../../actors/controllers/controller-manager.ts";
import { runController, wireController } from "../../../actors/controllers/controller-runner.ts";
import { deploymentController } from "../../../actors/controllers/deployment.ts";
import {
  podTemplateHash,
  REVISION_ANNOTATION,
  resolveIntOrPercent,
  rollingNewReplicas,
  rollingOldReplicas,
} from "../../../actors/controllers/deployment-rollout.ts";
import { garbageCollector } from "../../../actors/controllers/garbage-collector.ts";
import { reconcileLoopMachine } from "../../../actors/controllers/reconcile-loop.ts";
import { planReplicaSet, replicaSetController } from "../../../actors/controllers/replicaset.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi, settle } from "./fake-api.ts";

const meta = (o: JsonObject) => o.metadata as Record<string, unknown>;
const spec = (o: JsonObject) => o.spec as Record<string, unknown>;
const status = (o: JsonObject) => (o.status ?? {}) as Record<string, unknown>;
const template = (image: string) => ({
  metadata: { labels: { app: "web" } },
  spec: { containers: [{ name: "c", image }] },
});

function start(api: FakeApi, clock: ManualClock, factories: ControllerFactory[]) {
  const informers = new SharedInformers({ source: api, clock });
  const ctx = { api, cache: informers, clock, events: new EventBroadcaster({ api, clock }) };
  const controllers = factories.map((f) => runController(f(ctx), informers, clock));
  informers.start();
  return { informers, controllers };
}

async function run(clock: ManualClock, ms: number, stepMs = 10) {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await settle();
  }
}

async function markReady(api: FakeApi) {
  for (const pod of api.all("pods", "default")) {
    if (status(pod).conditions) continue;
    await api.update(
      "pods",
      { ...pod, status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } },
      { subresource: "status" },
    );
  }
}

describe("reconcile statechart", () => {
  it("is idle → reconciling → backoff", () => {
    expect(Object.keys(reconcileLoopMachine.config.states ?? {})).toEqual([
      "idle",
      "reconciling",
      "backoff",
      "stopped",
    ]);
  });

  it("a failing reconcile is retried with backoff; success forgets the failures", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const informers = new SharedInformers({ source: api, clock });
    const calls: number[] = [];
    let failuresLeft = 2;
    const c = runController(
      {
        name: "flaky",
        primary: "configmaps",
        reconcile: async () => {
          calls.push(clock.nowMs());
          if (failuresLeft-- > 0) throw new Error("boom");
          return undefined;
        },
      },
      informers,
      clock,
    );
    informers.start();
    await api.create("configmaps", { metadata: { name: "x", namespace: "default" } });
    await run(clock, 200, 1);
    expect(calls.length).toBe(3);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(5); // per-key backoff 5 ms, then 10 ms
    expect(calls[2]! - calls[1]!).toBeGreaterThanOrEqual(10);
    expect(c.queue.failuresOf("default/x")).toBe(0);
    expect(c.state()).toBe("idle");
    c.stop();
    informers.stop();
  });

  it("maxConcurrentReconciles: a slow key does not hold up another, and no key runs twice at once", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const informers = new SharedInformers({ source: api, clock });
    const running = new Set<string>();
    const started: string[] = [];
    let overlapped = false;
    let releaseSlow: () => void = () => {};
    const slow = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    const c = runController(
      {
        name: "workers",
        primary: "configmaps",
        maxConcurrentReconciles: 2,
        reconcile: async (key) => {
          if (running.has(key.name)) overlapped = true;
          running.add(key.name);
          started.push(key.name);
          if (key.name === "slow") await slow;
          running.delete(key.name);
          return undefined;
        },
      },
      informers,
      clock,
    );
    informers.start();
    await api.create("configmaps", { metadata: { name: "slow", namespace: "default" } });
    await run(clock, 20, 1);
    expect(c.state()).toBe("reconciling");
    // the slow key changes while it is being reconciled, and a new key arrives
    const slowNow = api.all("configmaps", "default")[0] as JsonObject;
    await api.update("configmaps", { ...slowNow, data: { v: "2" } });
    await api.create("configmaps", { metadata: { name: "fast", namespace: "default" } });
    await run(clock, 20, 1);
    expect(started).toEqual(["slow", "fast"]);
    releaseSlow();
    await run(clock, 20, 1);
    // the change seen during the first reconcile is reconciled after it, not beside it
    expect(started).toEqual(["slow", "fast", "slow"]);
    expect(overlapped).toBe(false);
    expect(c.state()).toBe("idle");
    c.stop();
    informers.stop();
  });

  it("maxConcurrentReconciles out of range is refused", () => {
    const clock = new ManualClock();
    const informers = new SharedInformers({ source: new FakeApi(), clock });
    const definition = {
      name: "bad",
      primary: "configmaps",
      maxConcurrentReconciles: 0,
      reconcile: async () => undefined,
    };
    expect(() => runController(definition, informers, clock)).toThrow(/maxConcurrentReconciles/);
  });
});

describe("a standby's warm caches (wireController)", () => {
  it("a controller started on synced informers reconciles every cached object without a list", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    for (const name of ["a", "b"])
      await api.create("configmaps", { metadata: { name, namespace: "default" } });
    let lists = 0;
    const source = {
      list: (r: Parameters<FakeApi["list"]>[0]) => {
        lists++;
        return api.list(r);
      },
      watch: api.watch.bind(api),
    };
    const informers = new SharedInformers({ source, clock });
    const reconciled: string[] = [];
    const wired = wireController(
      {
        name: "test",
        primary: "configmaps",
        reconcile: async (key) => {
          reconciled.push(key.name);
          return undefined;
        },
      },
      informers,
    );
    informers.start();
    await run(clock, 50);
    expect(informers.hasSynced()).toBe(true);
    // standing by: events change the cache but reconcile nothing
    await api.create("configmaps", { metadata: { name: "c", namespace: "default" } });
    await run(clock, 50);
    expect(reconciled).toEqual([]);
    const listsBefore = lists;

    const first = wired.start(clock);
    await run(clock, 50);
    expect(reconciled.sort()).toEqual(["a", "b", "c"]);
    first.stop();
    await api.create("configmaps", { metadata: { name: "d", namespace: "default" } });
    await run(clock, 50);
    expect(reconciled).toHaveLength(3);

    // leading again: everything once more, from the cache, and live events after
    reconciled.length = 0;
    const second = wired.start(clock);
    await run(clock, 50);
    expect(reconciled.sort()).toEqual(["a", "b", "c", "d"]);
    await api.create("configmaps", { metadata: { name: "e", namespace: "default" } });
    await run(clock, 50);
    expect(reconciled).toContain("e");
    expect(lists).toBe(listsBefore);
    second.stop();
    informers.stop();
  });
});

describe("ReplicaSet controller", () => {
  it("plan: adopts matching orphans, creates the missing, deletes not-ready pods first", () => {
    const rs: JsonObject = {
      metadata: { name: "rs", uid: "u1", generation: 2 },
      spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: template("a") },
    };
    const pod = (name: string, ready: boolean, owner?: string): JsonObject => ({
      metadata: {
        name,
        labels: { app: "web" },
        ...(owner
          ? {
              ownerReferences: [
                {
                  uid: owner,
                  controller: true,
                  kind: "ReplicaSet",
                  name: "rs",
                  apiVersion: "apps/v1",
                },
              ],
            }
          : {}),
      },
      status: ready ? { conditions: [{ type: "Ready", status: "True" }] } : {},
    });
    const up = planReplicaSet({ ...rs, spec: { ...spec(rs), replicas: 3 } }, [pod("orphan", true)]);
    expect(up.adopt.map((p) => meta(p).name)).toEqual(["orphan"]);
    expect(up.create).toBe(2);
    const down = planReplicaSet(rs, [
      pod("a", true, "u1"),
      pod("b", false, "u1"),
      pod("c", true, "u1"),
    ]);
    expect(down.delete.map((p) => meta(p).name)).toEqual(["b"]);
    expect(down.status).toMatchObject({ replicas: 3, readyReplicas: 2, observedGeneration: 2 });
    const foreign = planReplicaSet(rs, [pod("x", true, "other")]);
    expect(foreign.adopt).toEqual([]);
    expect(foreign.create).toBe(2);
  });

  it("creates replicas pods named <rs>-xxxxx with a controller ownerReference, scales down, reports status", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const { controllers } = start(api, clock, [(ctx) => replicaSetController(ctx)]);
    const rs = await api.create("replicasets.apps", {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "web", namespace: "default" },
      spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: template("a") },
    });
    await run(clock, 100);
    const pods = api.all("pods", "default");
    expect(pods.length).toBe(3);
    for (const p of pods) {
      expect(String(meta(p).name)).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      expect(meta(p).ownerReferences).toEqual([
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: "web",
          uid: meta(rs).uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    await markReady(api);
    await run(clock, 100);
    const current = await api.get("replicasets.apps", "web", { namespace: "default" });
    expect(status(current)).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      observedGeneration: 1,
    });
    await api.update("replicasets.apps", { ...current, spec: { ...spec(current), replicas: 1 } });
    await run(clock, 100);
    expect(api.all("pods", "default").length).toBe(1);
    // no duplicate creates from a stale cache: exactly 3 pods were ever created
    expect(api.writes.filter((w) => w.startsWith("create pods")).length).toBe(3);
    for (const c of controllers) c.stop();
  });
});

describe("Deployment controller", () => {
  it("rollout arithmetic: intOrPercent, surge up, scale old down within maxUnavailable", () => {
    expect(resolveIntOrPercent("25%", 5, true)).toBe(2);
    expect(resolveIntOrPercent("25%", 5, false)).toBe(1);
    expect(resolveIntOrPercent(3, 5, false)).toBe(3);
    const d: JsonObject = {
      metadata: {},
      spec: {
        replicas: 5,
        strategy: {
          type: "RollingUpdate",
          rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
        },
      },
    };
    const rs = (
      name: string,
      replicas: number,
      available: number,
      revision: number,
    ): JsonObject => ({
      metadata: { name, annotations: { [REVISION_ANNOTATION]: String(revision) } },
      spec: { replicas },
      status: { replicas, availableReplicas: available },
    });
    const old = rs("old", 5, 5, 1);
    const fresh = rs("new", 0, 0, 2);
    expect(rollingNewReplicas(d, fresh, [fresh, old])).toBe(2); // 5 + maxSurge 2 = 7 in all
    const grown = rs("new", 2, 0, 2);
    // minAvailable 4; the 2 new pods are unavailable, 5 old available → 1 old pod may go
    expect(rollingOldReplicas(d, grown, [old])).toEqual(new Map([["old", 4]]));
    expect(podTemplateHash(template("a"))).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(podTemplateHash(template("a"))).not.toBe(podTemplateHash(template("b")));
  });

  it("creates <deploy>-<hash>, rolls a new template out to the end, then GC takes it all on delete", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const { controllers } = start(api, clock, [
      deploymentController,
      (ctx) => replicaSetController(ctx),
      (ctx) => garbageCollector(ctx, "pods"),
      (ctx) => garbageCollector(ctx, "replicasets.apps"),
    ]);
    const d = await api.create("deployments.apps", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "web" } },
        template: template("a"),
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      },
    });
    await run(clock, 200);
    const [first] = api.all("replicasets.apps", "default");
    expect(meta(first!).name).toBe(`web-${podTemplateHash(template("a"))}`);
    expect((meta(first!).annotations as Record<string, string>)[REVISION_ANNOTATION]).toBe("1");
    expect(api.all("pods", "default").length).toBe(3);

    const cur = await api.get("deployments.apps", "web", { namespace: "default" });
    await api.update("deployments.apps", {
      ...cur,
      spec: { ...spec(cur), template: template("b") },
    });
    for (let i = 0; i < 30; i++) {
      await markReady(api);
      await run(clock, 50);
    }
    const rss = api.all("replicasets.apps", "default");
    const newName = `web-${podTemplateHash(template("b"))}`;
    expect(rss.map((r) => [meta(r).name, spec(r).replicas])).toEqual(
      [
        [meta(first!).name, 0],
        [newName, 3],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const done = await api.get("deployments.apps", "web", { namespace: "default" });
    expect(status(done)).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      availableReplicas: 3,
      observedGeneration: 2,
    });
    expect((meta(done).annotations as Record<string, string>)[REVISION_ANNOTATION]).toBe("2");

    await api.delete("deployments.apps", "web", { namespace: "default" });
    await run(clock, 300);
    expect(api.all("replicasets.apps", "default")).toEqual([]);
    expect(api.all("pods", "default")).toEqual([]);
    expect(meta(d).uid).toBeTruthy();
    for (const c of controllers) c.stop();
  });
});
