/**
 * VolumeBinding (kube-scheduler `plugins/volumebinding`) in the framework: a bound claim's
 * volume pins the pod to the nodes that reach it; an unbound WaitForFirstConsumer claim needs a
 * free reachable volume or a provisioner; a missing claim, or an unbound Immediate one, makes
 * the pod unschedulable everywhere; Reserve keeps a free volume for one pod only.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { defaultProfile } from "../../../actors/scheduler/default-profile.ts";
import { CycleState, findFeasibleNodes, runReserve } from "../../../actors/scheduler/framework.ts";
import { VolumeCache } from "../../../actors/scheduler/volume-cache.ts";
import { WaitingPods } from "../../../actors/scheduler/waiting-pods.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { cacheOf, info, node, pod } from "./cluster-fixture.ts";

const pinned = (name: string, nodeName: string, claimRef?: JsonObject): JsonObject => ({
  metadata: { name },
  spec: {
    capacity: { storage: "1Gi" },
    accessModes: ["ReadWriteOnce"],
    storageClassName: "wffc",
    local: { path: `/d/${name}` },
    nodeAffinity: {
      required: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: "kubernetes.io/hostname", operator: "In", values: [nodeName] },
            ],
          },
        ],
      },
    },
    ...(claimRef ? { claimRef } : {}),
  },
  status: { phase: "Available" },
});

const claim = (name: string, cls = "wffc", volumeName = ""): JsonObject => ({
  metadata: { name, namespace: "default", uid: `${name}-uid` },
  spec: {
    storageClassName: cls,
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "1Gi" } },
    ...(volumeName ? { volumeName } : {}),
  },
  status: { phase: volumeName ? "Bound" : "Pending" },
});

function podWith(name: string, claimName: string): JsonObject {
  const p = pod(name);
  (p.spec as JsonObject).volumes = [{ name: "v", persistentVolumeClaim: { claimName } }];
  return p;
}

function setup(objects: { claims?: JsonObject[]; volumes?: JsonObject[]; classes?: JsonObject[] }) {
  const cache = cacheOf([node("a"), node("b"), node("c")]);
  const volumes = new VolumeCache(new ManualClock());
  for (const c of objects.claims ?? []) volumes.setClaim(c);
  for (const v of objects.volumes ?? []) volumes.setVolume(v);
  for (const s of objects.classes ?? [
    {
      metadata: { name: "wffc" },
      provisioner: "kubernetes.io/no-provisioner",
      volumeBindingMode: "WaitForFirstConsumer",
    },
    {
      metadata: { name: "now" },
      provisioner: "kubernetes.io/no-provisioner",
      volumeBindingMode: "Immediate",
    },
    {
      metadata: { name: "dynamic" },
      provisioner: "bosun.dev/local-path",
      volumeBindingMode: "WaitForFirstConsumer",
    },
  ])
    volumes.setClass(s);
  const profile = defaultProfile({
    cache,
    waitingPods: new WaitingPods(),
    volumes,
    bindPod: async () => {},
  });
  const feasible = (p: JsonObject, state = new CycleState()) => {
    const r = findFeasibleNodes(profile, info(p), cache, state);
    return { names: r.feasible.map((n) => n.name), diagnosis: [...r.diagnosis] };
  };
  return { cache, volumes, profile, feasible };
}

describe("VolumeBinding", () => {
  it("a bound claim's volume pins the pod to the node that reaches it", () => {
    const s = setup({ claims: [claim("data", "wffc", "on-b")], volumes: [pinned("on-b", "b")] });
    expect(s.feasible(podWith("p", "data"))).toEqual({
      names: ["b"],
      diagnosis: [["node(s) had volume node affinity conflict", 2]],
    });
  });

  it("an unbound WaitForFirstConsumer claim: the nodes with a free volume, or any with a provisioner", () => {
    const s = setup({
      claims: [claim("data"), claim("dyn", "dynamic")],
      volumes: [pinned("on-c", "c")],
    });
    expect(s.feasible(podWith("p", "data")).names).toEqual(["c"]);
    expect(s.feasible(podWith("q", "dyn")).names).toEqual(["a", "b", "c"]);
  });

  it("a missing claim, or an unbound Immediate one, fits nowhere", () => {
    const s = setup({ claims: [claim("later", "now")] });
    expect(s.feasible(podWith("p", "nope")).diagnosis).toEqual([
      ['persistentvolumeclaim "nope" not found', 3],
    ]);
    expect(s.feasible(podWith("p", "later")).diagnosis).toEqual([
      ["pod has unbound immediate PersistentVolumeClaims", 3],
    ]);
  });

  it("Reserve keeps the one free volume for the first pod; the second finds none", () => {
    const s = setup({ claims: [claim("one"), claim("two")], volumes: [pinned("only", "a")] });
    const state = new CycleState();
    const first = podWith("p1", "one");
    expect(s.feasible(first, state).names).toEqual(["a"]);
    expect(runReserve(s.profile, info(first), "a", state)).toBeNull();
    expect(s.volumes.reservedFor("only")).toBe("default/one");
    expect(s.feasible(podWith("p2", "two")).names).toEqual([]);
  });
});
