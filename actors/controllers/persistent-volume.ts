/**
 * The PersistentVolume controller (kube-controller-manager's `persistentvolume-binder`), two
 * reconcilers over one set of rules (actors/api/persistent-volumes.ts):
 * - claims: a Pending claim binds the smallest Available volume of its class that holds enough
 *   with the access modes it asks for — at once for `volumeBindingMode: Immediate`, and for
 *   `WaitForFirstConsumer` only once the scheduler has chosen its pod's node
 *   (`volume.kubernetes.io/selected-node`), among the volumes reachable from that node. A
 *   claim the scheduler pre-bound (`spec.volumeName`) completes. With no volume to bind and a
 *   class whose provisioner makes volumes, the claim is handed to it
 *   (`volume.kubernetes.io/storage-provisioner`). Binding writes the volume's `claimRef` first,
 *   then the claim's `volumeName`, then its status (Bound, capacity, access modes).
 * - volumes: a volume's phase is Available (no claim), Bound (its claim exists) or Released
 *   (its claim is gone); a Released volume with reclaim policy Delete is deleted, unless a
 *   provisioner made it (the provisioner reclaims what it made: bosun's local-path
 *   provisioner, in each kubelet, removes the directory first).
 * The plans are pure; the reconcile functions write them.
 */
import { asObject, asString, isJsonObject, type JsonObject } from "../api/json.ts";
import type { Labels } from "../api/label-selector.ts";
import {
  BIND_COMPLETED_ANNOTATION,
  classOf,
  NO_PROVISIONER,
  PROVISIONED_BY_ANNOTATION,
  SELECTED_NODE_ANNOTATION,
  STORAGE_PROVISIONER_ANNOTATION,
  smallestFitting,
  volumeFitsClaim,
  volumeReachableFrom,
} from "../api/persistent-volumes.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { isBeingDeleted, nameOf, namespaceOf, uidOf } from "./owner-references.ts";

export const PVS = "persistentvolumes";
export const PVCS = "persistentvolumeclaims";
export const STORAGE_CLASSES = "storageclasses.storage.k8s.io";

export interface ClaimPlan {
  /** The volume with its `claimRef` set to the claim, to write first. */
  volume: JsonObject | null;
  /** The claim with `volumeName` or annotations set, to write next. */
  claim: JsonObject | null;
  /** The claim's status to write last. */
  status: JsonObject | null;
}

const annotationsOf = (o: JsonObject) => asObject(asObject(o.metadata).annotations);

function withAnnotations(o: JsonObject, extra: Record<string, string>): JsonObject {
  const meta = asObject(o.metadata);
  return { ...o, metadata: { ...meta, annotations: { ...asObject(meta.annotations), ...extra } } };
}

export function claimRefTo(pvc: JsonObject): JsonObject {
  return {
    kind: "PersistentVolumeClaim",
    apiVersion: "v1",
    namespace: namespaceOf(pvc),
    name: nameOf(pvc),
    uid: uidOf(pvc),
    resourceVersion: asString(asObject(pvc.metadata).resourceVersion),
  };
}

function boundTo(pv: JsonObject, pvc: JsonObject): boolean {
  const ref = asObject(asObject(pv.spec).claimRef);
  return asString(ref.uid) === uidOf(pvc);
}

/** What binding `pvc` needs now, given the volumes, its class and the nodes' labels. */
export function planClaim(
  pvc: JsonObject,
  pvs: readonly JsonObject[],
  storageClass: JsonObject | undefined,
  nodeLabels: (name: string) => Labels | undefined,
): ClaimPlan {
  const plan: ClaimPlan = { volume: null, claim: null, status: null };
  if (isBeingDeleted(pvc)) return plan;
  const spec = asObject(pvc.spec);
  const bind = (pv: JsonObject) => {
    if (!boundTo(pv, pvc))
      plan.volume = { ...pv, spec: { ...asObject(pv.spec), claimRef: claimRefTo(pvc) } };
    if (
      asString(spec.volumeName) !== nameOf(pv) ||
      annotationsOf(pvc)[BIND_COMPLETED_ANNOTATION] !== "yes"
    )
      plan.claim = withAnnotations(
        { ...pvc, spec: { ...spec, volumeName: nameOf(pv) } },
        { [BIND_COMPLETED_ANNOTATION]: "yes" },
      );
    if (asString(asObject(pvc.status).phase) !== "Bound")
      plan.status = {
        phase: "Bound",
        accessModes: asObject(pv.spec).accessModes ?? [],
        capacity: asObject(pv.spec).capacity ?? {},
      };
  };
  const volumeName = asString(spec.volumeName);
  if (volumeName !== "") {
    const pv = pvs.find((v) => nameOf(v) === volumeName);
    if (pv !== undefined) bind(pv);
    return plan;
  }
  // a volume pre-bound to this claim (the scheduler's PreBind, a provisioner) binds it at once
  const preBound = pvs.find((pv) => boundTo(pv, pvc) && volumeFitsClaim(pv, pvc));
  if (preBound !== undefined) {
    bind(preBound);
    return plan;
  }
  const waitForConsumer = asString(storageClass?.volumeBindingMode) === "WaitForFirstConsumer";
  const selected = asString(annotationsOf(pvc)[SELECTED_NODE_ANNOTATION]);
  if (waitForConsumer && selected === "") return plan; // the scheduler decides where first
  const labels = selected === "" ? undefined : nodeLabels(selected);
  if (selected !== "" && labels === undefined) return plan; // that node is not known yet
  const reachable = pvs.filter(
    (pv) => labels === undefined || volumeReachableFrom(pv, selected, labels),
  );
  // a volume reserved for this claim (claimRef by name) comes before any other
  const reserved = reachable.filter(
    (pv) => asString(asObject(asObject(pv.spec).claimRef).name) === nameOf(pvc),
  );
  const pv = smallestFitting(reserved, pvc) ?? smallestFitting(reachable, pvc);
  if (pv !== null) {
    bind(pv);
    return plan;
  }
  const provisioner = asString(storageClass?.provisioner);
  if (
    provisioner !== "" &&
    provisioner !== NO_PROVISIONER &&
    annotationsOf(pvc)[STORAGE_PROVISIONER_ANNOTATION] !== provisioner
  )
    plan.claim = withAnnotations(pvc, { [STORAGE_PROVISIONER_ANNOTATION]: provisioner });
  return plan;
}

export interface VolumePlan {
  phase: "Available" | "Bound" | "Released";
  /** Released with reclaim policy Delete, and no provisioner to reclaim it: delete. */
  delete: boolean;
}

export function planVolume(pv: JsonObject, claim: JsonObject | undefined): VolumePlan {
  const ref = asObject(asObject(pv.spec).claimRef);
  if (asString(ref.name) === "") return { phase: "Available", delete: false };
  const sameClaim =
    claim !== undefined && (asString(ref.uid) === "" || asString(ref.uid) === uidOf(claim));
  if (sameClaim) return { phase: "Bound", delete: false };
  const deletes =
    asString(asObject(pv.spec).persistentVolumeReclaimPolicy) === "Delete" &&
    annotationsOf(pv)[PROVISIONED_BY_ANNOTATION] === undefined;
  return { phase: "Released", delete: deletes };
}

const ignoreGone = (error: unknown) => {
  // deleted meanwhile, or changed: the informer brings the newer version back here
  if (!isNotFound(error) && !isConflict(error)) throw error;
};

export function persistentVolumeClaimController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache } = ctx;
  const nodeLabels = (name: string) => {
    const node = cache.get("nodes", { namespace: "", name });
    return node ? (asObject(asObject(node.metadata).labels) as Labels) : undefined;
  };
  const pendingClaimsOfClass = (sc: JsonObject): ObjectKey[] =>
    cache
      .list(PVCS)
      .filter((c) => classOf(c) === nameOf(sc) && asString(asObject(c.status).phase) !== "Bound")
      .map((c) => ({ namespace: namespaceOf(c), name: nameOf(c) }));

  async function reconcile(key: ObjectKey) {
    const pvc = cache.get(PVCS, key);
    if (!pvc) return undefined;
    const sc = cache.get(STORAGE_CLASSES, { namespace: "", name: classOf(pvc) });
    const plan = planClaim(pvc, cache.list(PVS), sc, nodeLabels);
    try {
      if (plan.volume) await api.update(PVS, plan.volume);
      let claim = pvc;
      if (plan.claim) claim = await api.update(PVCS, plan.claim, { namespace: key.namespace });
      if (plan.status)
        await api.update(
          PVCS,
          { ...claim, status: plan.status },
          { namespace: key.namespace, subresource: "status" },
        );
    } catch (error) {
      ignoreGone(error);
    }
    return undefined;
  }

  return {
    name: "persistentvolume-binder",
    primary: PVCS,
    watches: [
      {
        // a new or freed volume may fit a waiting claim
        resource: PVS,
        map: () =>
          cache
            .list(PVCS)
            .filter((c) => asString(asObject(c.status).phase) !== "Bound")
            .map((c) => ({ namespace: namespaceOf(c), name: nameOf(c) })),
      },
      { resource: STORAGE_CLASSES, map: pendingClaimsOfClass },
      { resource: "nodes", map: () => [] },
    ],
    reconcile,
  };
}

export function persistentVolumeController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache } = ctx;

  async function reconcile(key: ObjectKey) {
    const pv = cache.get(PVS, key);
    if (!pv || isBeingDeleted(pv)) return undefined;
    const ref = asObject(asObject(pv.spec).claimRef);
    const claim = isJsonObject(asObject(pv.spec).claimRef)
      ? cache.get(PVCS, {
          namespace: asString(ref.namespace) || "default",
          name: asString(ref.name),
        })
      : undefined;
    const plan = planVolume(pv, claim);
    try {
      if (plan.delete) {
        await api.delete(PVS, nameOf(pv));
        return undefined;
      }
      if (asString(asObject(pv.status).phase) !== plan.phase)
        await api.update(
          PVS,
          { ...pv, status: { ...asObject(pv.status), phase: plan.phase } },
          { subresource: "status" },
        );
    } catch (error) {
      ignoreGone(error);
    }
    return undefined;
  }

  return {
    name: "persistentvolume",
    primary: PVS,
    watches: [
      {
        // a claim that goes releases its volume
        resource: PVCS,
        map: (pvc) => {
          const volume = asString(asObject(pvc.spec).volumeName);
          return volume === "" ? [] : [{ namespace: "", name: volume }];
        },
      },
    ],
    reconcile,
  };
}
