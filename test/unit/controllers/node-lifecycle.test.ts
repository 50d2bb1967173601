/**
 * The node lifecycle controller under a ManualClock against the in-memory API: a Lease that
 * stops moving for the grace period makes its node Unknown and tainted
 * `node.kubernetes.io/unreachable:NoExecute`; pods that do not tolerate the taint are evicted
 * (grace period 0), pods tolerating it for N s after N s, pods tolerating it forever never; a
 * Lease that moves again removes the taint.
 */

import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { UNREACHABLE_TAINT_KEY } from "../../../actors/api/well-known.ts";
import { EventBroadcaster } from "../../../actors/client/event-recorder.ts";
import { SharedInformers } from "../../../actors/client/shared-informers.ts";
import { runController } from "../../../actors/controllers/controller-runner.ts";
import {
  evictionDelayMs,
  hasUnreachableTaint,
  isReadyUnknown,
  NODE_LEASES,
  NODE_STATUS_UNKNOWN_MESSAGE,
  NODE_STATUS_UNKNOWN_REASON,
  nodeLifecycleController,
} from "../../../actors/controllers/node-lifecycle.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi, settle } from "./fake-api.ts";

const GRACE_MS = 4_000;

async function run(clock: ManualClock, ms: number, stepMs = 100) {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await settle();
  }
}

async function setup(pods: { name: string; tolerations?: JsonObject[] }[] = []) {
  const clock = new ManualClock();
  const api = new FakeApi();
  for (const n of ["n1", "n2"]) {
    await api.create("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: n }, spec: {} });
    await api.update(
      "nodes",
      {
        metadata: { name: n },
        status: {
          conditions: [{ type: "Ready", status: "True", reason: "KubeletReady" }],
        },
      },
      { subresource: "status" },
    );
    await api.create(NODE_LEASES, {
      metadata: { name: n, namespace: "kube-node-lease" },
      spec: { holderIdentity: n, renewTime: "2026-01-01T00:00:00.000000Z" },
    });
  }
  for (const p of pods)
    await api.create("pods", {
      metadata: { name: p.name, namespace: "default" },
      spec: {
        nodeName: "n1",
        containers: [{ name: "c", image: "i" }],
        tolerations: p.tolerations ?? [],
      },
    });
  const informers = new SharedInformers({ source: api, clock });
  const controller = runController(
    nodeLifecycleController({
      api,
      cache: informers,
      clock,
      events: new EventBroadcaster({ api, clock }),
    }),
    informers,
    clock,
  );
  informers.start();
  await settle();
  const renew = async (node: string) => {
    const lease = await api.get(NODE_LEASES, node, { namespace: "kube-node-lease" });
    await api.update(NODE_LEASES, {
      ...lease,
      spec: { ...(lease.spec as JsonObject), renewTime: new Date(clock.wallMs()).toISOString() },
    });
  };
  /** Runs `ms` while n2's kubelet keeps renewing every second and n1's is silent. */
  const live = async (ms: number, nodes = ["n2"]) => {
    for (let t = 0; t < ms; t += 1_000) {
      for (const n of nodes) await renew(n);
      await run(clock, 1_000);
    }
  };
  const node = (name: string) => api.get("nodes", name);
  const podNames = () =>
    api.all("pods", "default").map((p) => String((p.metadata as JsonObject).name));
  const stop = () => {
    controller.stop();
    informers.stop();
  };
  return { clock, api, live, node, podNames, stop };
}

describe("node lifecycle: a node whose Lease stops moving", () => {
  it("stays Ready within the grace period, then becomes Unknown and tainted NoExecute", async () => {
    const t = await setup();
    await t.live(GRACE_MS - 1_000);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(false);
    await t.live(2_000);
    const n1 = await t.node("n1");
    expect(isReadyUnknown(n1)).toBe(true);
    const ready = ((n1.status as JsonObject).conditions as JsonObject[]).find(
      (c) => c.type === "Ready",
    );
    expect(ready).toMatchObject({
      status: "Unknown",
      reason: NODE_STATUS_UNKNOWN_REASON,
      message: NODE_STATUS_UNKNOWN_MESSAGE,
    });
    const taints = (n1.spec as JsonObject).taints as JsonObject[];
    expect(taints).toHaveLength(1);
    expect(taints[0]).toMatchObject({ key: UNREACHABLE_TAINT_KEY, effect: "NoExecute" });
    expect(typeof taints[0]?.timeAdded).toBe("string");
    // the renewing node is untouched
    const n2 = await t.node("n2");
    expect(hasUnreachableTaint(n2)).toBe(false);
    expect(isReadyUnknown(n2)).toBe(false);
    t.stop();
  });

  it("is judged by our monotonic clock, not the kubelet's renewTime (clock skew)", async () => {
    const t = await setup();
    // n2's renewTime says 1970, far in the past, but the Lease keeps changing: n2 is alive
    for (let i = 0; i < 8; i++) {
      const lease = await t.api.get(NODE_LEASES, "n2", { namespace: "kube-node-lease" });
      await t.api.update(NODE_LEASES, {
        ...lease,
        spec: { ...(lease.spec as JsonObject), renewTime: `1970-01-01T00:00:0${i}.000000Z` },
      });
      await run(t.clock, 1_000);
    }
    expect(hasUnreachableTaint(await t.node("n2"))).toBe(false);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(true);
    t.stop();
  });

  it("loses the taint when its Lease moves again", async () => {
    const t = await setup();
    await t.live(GRACE_MS + 1_000);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(true);
    await t.live(1_000, ["n1", "n2"]);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(false);
    // and it is not tainted again while it keeps renewing
    await t.live(GRACE_MS * 2, ["n1", "n2"]);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(false);
    t.stop();
  });
});

describe("node lifecycle: eviction from an unreachable node", () => {
  it("deletes pods without a toleration at once, with gracePeriodSeconds 0", async () => {
    const t = await setup([{ name: "a" }, { name: "b" }]);
    await t.live(GRACE_MS - 1_000);
    expect(t.podNames()).toEqual(["a", "b"]);
    await t.live(2_000);
    expect(t.podNames()).toEqual([]);
    expect(t.api.deleteGracePeriods).toEqual([
      { name: "a", gracePeriodSeconds: 0 },
      { name: "b", gracePeriodSeconds: 0 },
    ]);
    t.stop();
  });

  it("keeps a pod tolerating the taint for N s exactly N s, and one tolerating it forever", async () => {
    const t = await setup([
      {
        name: "patient",
        tolerations: [
          {
            key: UNREACHABLE_TAINT_KEY,
            operator: "Exists",
            effect: "NoExecute",
            tolerationSeconds: 10,
          },
        ],
      },
      { name: "forever", tolerations: [{ operator: "Exists" }] },
      { name: "plain" },
    ]);
    await t.live(GRACE_MS);
    await t.live(1_000);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(true);
    expect(t.podNames()).toEqual(["forever", "patient"]);
    await t.live(8_000);
    expect(t.podNames()).toEqual(["forever", "patient"]);
    await t.live(2_000);
    expect(t.podNames()).toEqual(["forever"]);
    await t.live(30_000);
    expect(t.podNames()).toEqual(["forever"]);
    t.stop();
  });

  it("evicts nothing once the node is back", async () => {
    const t = await setup([
      {
        name: "patient",
        tolerations: [{ key: UNREACHABLE_TAINT_KEY, operator: "Exists", tolerationSeconds: 5 }],
      },
    ]);
    await t.live(GRACE_MS + 1_000);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(true);
    await t.live(10_000, ["n1", "n2"]);
    expect(hasUnreachableTaint(await t.node("n1"))).toBe(false);
    expect(t.podNames()).toEqual(["patient"]);
    t.stop();
  });
});

describe("evictionDelayMs (NoExecuteTaintManager's getMinTolerationTime)", () => {
  const pod = (tolerations: JsonObject[]) => ({ spec: { tolerations } }) as JsonObject;
  it("is the eviction timeout without a matching toleration", () => {
    expect(evictionDelayMs(pod([]), 0)).toBe(0);
    expect(evictionDelayMs(pod([{ key: "other", operator: "Exists" }]), 7)).toBe(7);
    expect(evictionDelayMs(pod([{ key: UNREACHABLE_TAINT_KEY, effect: "NoSchedule" }]), 7)).toBe(7);
  });
  it("is the smallest tolerationSeconds, or never without one", () => {
    const t = (s?: number): JsonObject => ({
      key: UNREACHABLE_TAINT_KEY,
      operator: "Exists",
      ...(s === undefined ? {} : { tolerationSeconds: s }),
    });
    expect(evictionDelayMs(pod([t(30), t(10)]), 0)).toBe(10_000);
    expect(evictionDelayMs(pod([t(30), t()]), 0)).toBeNull();
  });
});
