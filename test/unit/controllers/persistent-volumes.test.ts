/**
 * Volume binding, its pure parts: the PV controller's claim plan (Immediate binds the smallest
 * fitting volume; WaitForFirstConsumer waits for the scheduler's node and then only volumes
 * reachable from it; a pre-bound volume binds at once; no volume and a provisioner → handed to
 * it), the volume plan (Available, Bound, Released, deleted on Delete unless provisioned), and
 * the local-path provisioner's (a volume on its node for the claims placed there; reclaimed
 * once Released).
 */
import { describe, expect, it } from "vitest";
import { applyDefaults } from "../../../actors/api/defaults.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { planClaim, planVolume } from "../../../actors/controllers/persistent-volume.ts";
import { planLocalPath } from "../../../actors/kubelet/local-path-provisioner.ts";

const labels = (name: string) => ({ "kubernetes.io/hostname": name });
const nodes = (name: string) => (["n1", "n2"].includes(name) ? labels(name) : undefined);

function pv(name: string, storage: string, node?: string, extra: JsonObject = {}): JsonObject {
  const spec: JsonObject = {
    capacity: { storage },
    accessModes: ["ReadWriteOnce"],
    storageClassName: "local",
    local: { path: `/data/${name}` },
    ...extra,
  };
  if (node)
    spec.nodeAffinity = {
      required: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] },
        ],
      },
    };
  return applyDefaults("PersistentVolume", {
    metadata: { name },
    spec,
    status: { phase: "Available" },
  });
}

function pvc(annotations: Record<string, string> = {}, storage = "1Gi"): JsonObject {
  return applyDefaults("PersistentVolumeClaim", {
    metadata: { name: "c", namespace: "default", uid: "c-uid", annotations },
    spec: {
      storageClassName: "local",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage } },
    },
  });
}

const sc = (mode: string, provisioner = "kubernetes.io/no-provisioner") => ({
  metadata: { name: "local" },
  provisioner,
  volumeBindingMode: mode,
});
const nameOf = (o: JsonObject | null) => ((o?.metadata ?? {}) as JsonObject).name;

describe("the PV controller's claim plan", () => {
  it("Immediate: the smallest volume that holds enough, claimRef first, then the claim", () => {
    const plan = planClaim(
      pvc(),
      [pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi")],
      sc("Immediate"),
      nodes,
    );
    expect(nameOf(plan.volume)).toBe("small");
    expect(((plan.volume as JsonObject).spec as JsonObject).claimRef).toMatchObject({
      name: "c",
      uid: "c-uid",
    });
    expect(((plan.claim as JsonObject).spec as JsonObject).volumeName).toBe("small");
    expect(plan.status).toMatchObject({ phase: "Bound", capacity: { storage: "2Gi" } });
  });

  it("WaitForFirstConsumer: nothing until a node is selected, then a volume reachable from it", () => {
    const volumes = [pv("on-n1", "1Gi", "n1"), pv("on-n2", "5Gi", "n2")];
    expect(planClaim(pvc(), volumes, sc("WaitForFirstConsumer"), nodes)).toEqual({
      volume: null,
      claim: null,
      status: null,
    });
    const plan = planClaim(
      pvc({ "volume.kubernetes.io/selected-node": "n2" }),
      volumes,
      sc("WaitForFirstConsumer"),
      nodes,
    );
    expect(nameOf(plan.volume)).toBe("on-n2");
  });

  it("a volume pre-bound to the claim binds it at once; no volume and a provisioner: handed over", () => {
    const preBound = pv("pre", "1Gi", "n1", {
      claimRef: { name: "c", namespace: "default", uid: "c-uid" },
    });
    expect(planClaim(pvc(), [preBound], sc("WaitForFirstConsumer"), nodes).status).toMatchObject({
      phase: "Bound",
    });
    const handed = planClaim(pvc(), [], sc("Immediate", "bosun.dev/local-path"), nodes);
    expect(((handed.claim as JsonObject).metadata as JsonObject).annotations).toMatchObject({
      "volume.kubernetes.io/storage-provisioner": "bosun.dev/local-path",
    });
  });
});

describe("the PV controller's volume plan", () => {
  const claimed = pv("v", "1Gi", undefined, {
    claimRef: { name: "c", namespace: "default", uid: "c-uid" },
    persistentVolumeReclaimPolicy: "Delete",
  });
  it("Available without a claim, Bound with it, Released (and deleted on Delete) after", () => {
    expect(planVolume(pv("free", "1Gi"), undefined)).toEqual({ phase: "Available", delete: false });
    expect(planVolume(claimed, pvc())).toEqual({ phase: "Bound", delete: false });
    expect(planVolume(claimed, undefined)).toEqual({ phase: "Released", delete: true });
    const provisioned = {
      ...claimed,
      metadata: {
        name: "v",
        annotations: { "pv.kubernetes.io/provisioned-by": "bosun.dev/local-path" },
      },
    };
    expect(planVolume(provisioned, undefined)).toEqual({ phase: "Released", delete: false });
  });
});

describe("the local-path provisioner's plan", () => {
  const classes = [
    { metadata: { name: "local" }, provisioner: "bosun.dev/local-path", reclaimPolicy: "Delete" },
  ];
  const selected = (node: string) =>
    pvc({
      "volume.kubernetes.io/selected-node": node,
      "volume.kubernetes.io/storage-provisioner": "bosun.dev/local-path",
    });

  it("a volume under this node's data dir for the claims placed here, pre-bound and pinned", () => {
    const plan = planLocalPath("n1", "/var/n1", [selected("n1"), selected("n2")], [], classes);
    expect(plan.create).toHaveLength(1);
    expect(plan.create[0]?.dir).toBe("/var/n1/local-path/pvc-c-uid");
    expect(plan.create[0]?.pv).toMatchObject({
      metadata: { name: "pvc-c-uid" },
      spec: {
        local: { path: "/var/n1/local-path/pvc-c-uid" },
        claimRef: { name: "c", uid: "c-uid" },
        capacity: { storage: "1Gi" },
      },
    });
    expect(
      planLocalPath("n1", "/var/n1", [selected("n1")], [plan.create[0]?.pv as JsonObject], classes)
        .create,
    ).toEqual([]);
  });

  it("a Released volume of this node with reclaim policy Delete is reclaimed", () => {
    const made = planLocalPath("n1", "/var/n1", [selected("n1")], [], classes).create[0]
      ?.pv as JsonObject;
    const released = { ...made, status: { phase: "Released" } };
    expect(
      planLocalPath("n1", "/var/n1", [], [released], classes).reclaim.map((r) => r.dir),
    ).toEqual(["/var/n1/local-path/pvc-c-uid"]);
    expect(planLocalPath("n2", "/var/n2", [], [released], classes).reclaim).toEqual([]);
  });
});
