/**
 * PersistentVolumes, PersistentVolumeClaims and StorageClasses, as the API server and the
 * components that bind them share them: defaults, validation (the rules users hit), the
 * well-known annotations, and the pure matching rules of kube's PV controller
 * (`pkg/controller/volume/persistentvolume`): a claim fits a volume of its class with at least
 * the storage it requests and every access mode it asks for; a `local` or `hostPath` volume's
 * `nodeAffinity` says which nodes can reach its data.
 */

import { setDefault } from "./defaults.ts";
import { type FieldError, invalid, notSupported, required } from "./field-error.ts";
import { asArray, asObject, asString, type JsonObject, type JsonValue } from "./json.ts";
import type { Labels } from "./label-selector.ts";
import { nodeSelectorMatches } from "./node-selector.ts";
import { quantityValue } from "./quantity.ts";

/** Set on a claim by the scheduler: the node a WaitForFirstConsumer claim's pod goes to. */
export const SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node";
/** Set on a claim by the PV controller: which provisioner is to make its volume. */
export const STORAGE_PROVISIONER_ANNOTATION = "volume.kubernetes.io/storage-provisioner";
/** Set on a volume by its provisioner. */
export const PROVISIONED_BY_ANNOTATION = "pv.kubernetes.io/provisioned-by";
export const BIND_COMPLETED_ANNOTATION = "pv.kubernetes.io/bind-completed";
/** A StorageClass provisioner meaning "no dynamic provisioning" (static local volumes). */
export const NO_PROVISIONER = "kubernetes.io/no-provisioner";
/** bosun's local-path provisioner (each kubelet, for claims selected to its node). */
export const LOCAL_PATH_PROVISIONER = "bosun.dev/local-path";

const ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];
const RECLAIM_POLICIES = ["Retain", "Delete", "Recycle"];
const BINDING_MODES = ["Immediate", "WaitForFirstConsumer"];

export function defaultPersistentVolume(pv: JsonObject): void {
  const spec = asObject(pv.spec);
  pv.spec = spec;
  setDefault(spec, "persistentVolumeReclaimPolicy", "Retain");
  setDefault(spec, "volumeMode", "Filesystem");
  setDefault(pv, "status", { phase: "Pending" });
}

export function defaultPersistentVolumeClaim(pvc: JsonObject): void {
  const spec = asObject(pvc.spec);
  pvc.spec = spec;
  setDefault(spec, "volumeMode", "Filesystem");
  setDefault(pvc, "status", { phase: "Pending" });
}

export function defaultStorageClass(sc: JsonObject): void {
  setDefault(sc, "reclaimPolicy", "Delete");
  setDefault(sc, "volumeBindingMode", "Immediate");
}

function validateAccessModes(value: JsonValue | undefined, path: string): FieldError[] {
  const modes = asArray(value);
  if (modes.length === 0) return [required(path)];
  return modes
    .filter((m) => !ACCESS_MODES.includes(asString(m)))
    .map((m) => notSupported(path, m, ACCESS_MODES));
}

function validateStorage(value: JsonValue | undefined, path: string): FieldError[] {
  if (value === undefined || value === null) return [required(path)];
  try {
    if (quantityValue(value as string | number) <= 0)
      return [invalid(path, value, "must be greater than zero")];
  } catch {
    return [invalid(path, value, "must be a quantity such as 1Gi")];
  }
  return [];
}

export function validatePersistentVolume(pv: JsonObject): FieldError[] {
  const spec = asObject(pv.spec);
  const errs = [
    ...validateStorage(asObject(spec.capacity).storage, "spec.capacity.storage"),
    ...validateAccessModes(spec.accessModes, "spec.accessModes"),
  ];
  const sources = ["local", "hostPath"].filter((s) => spec[s] !== undefined);
  if (sources.length === 0)
    errs.push(required("spec", "must specify a volume type (local or hostPath)"));
  if (sources.length > 1)
    errs.push(invalid("spec.hostPath", "", "may not specify more than 1 volume type"));
  if (spec.local !== undefined) {
    if (asString(asObject(spec.local).path) === "") errs.push(required("spec.local.path"));
    // a local volume lives on some node: it must say which
    if (asObject(spec.nodeAffinity).required === undefined)
      errs.push(required("spec.nodeAffinity", "Local volume requires node affinity"));
  }
  if (spec.hostPath !== undefined && asString(asObject(spec.hostPath).path) === "")
    errs.push(required("spec.hostPath.path"));
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy !== undefined && !RECLAIM_POLICIES.includes(asString(policy)))
    errs.push(notSupported("spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES));
  return errs;
}

export function validatePersistentVolumeClaim(pvc: JsonObject): FieldError[] {
  const spec = asObject(pvc.spec);
  return [
    ...validateAccessModes(spec.accessModes, "spec.accessModes"),
    ...validateStorage(
      asObject(asObject(spec.resources).requests).storage,
      "spec.resources[storage]",
    ),
  ];
}

export function validateStorageClass(sc: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  if (asString(sc.provisioner) === "") errs.push(required("provisioner"));
  if (!BINDING_MODES.includes(asString(sc.volumeBindingMode)))
    errs.push(notSupported("volumeBindingMode", sc.volumeBindingMode ?? "", BINDING_MODES));
  if (!["Retain", "Delete"].includes(asString(sc.reclaimPolicy)))
    errs.push(notSupported("reclaimPolicy", sc.reclaimPolicy ?? "", ["Delete", "Retain"]));
  return errs;
}

// ---- matching (pure) ------------------------------------------------------------------------

export function storageBytes(value: JsonValue | undefined): number {
  try {
    return quantityValue((value ?? 0) as string | number);
  } catch {
    return 0;
  }
}

export function claimRequestBytes(pvc: JsonObject): number {
  return storageBytes(asObject(asObject(asObject(pvc.spec).resources).requests).storage);
}

export function volumeCapacityBytes(pv: JsonObject): number {
  return storageBytes(asObject(asObject(pv.spec).capacity).storage);
}

export function classOf(o: JsonObject): string {
  return asString(asObject(o.spec).storageClassName);
}

/** The volume's node affinity admits the node (no affinity: every node). */
export function volumeReachableFrom(pv: JsonObject, nodeName: string, labels: Labels): boolean {
  return nodeSelectorMatches(asObject(asObject(pv.spec).nodeAffinity).required, nodeName, labels);
}

/** The claim `pvc` may bind `pv`: free (or reserved for it), same class, enough, right modes. */
export function volumeFitsClaim(pv: JsonObject, pvc: JsonObject): boolean {
  const ref = asObject(asObject(pv.spec).claimRef);
  const meta = asObject(pvc.metadata);
  if (asString(ref.name) !== "") {
    const mine =
      asString(ref.name) === asString(meta.name) &&
      (asString(ref.namespace) || "default") === (asString(meta.namespace) || "default") &&
      (asString(ref.uid) === "" || asString(ref.uid) === asString(meta.uid));
    if (!mine) return false;
  }
  const phase = asString(asObject(pv.status).phase);
  if (phase === "Released" || phase === "Failed") return false;
  if (asObject(pv.metadata).deletionTimestamp !== undefined) return false;
  if (classOf(pv) !== classOf(pvc)) return false;
  if (volumeCapacityBytes(pv) < claimRequestBytes(pvc)) return false;
  const offered = asArray(asObject(pv.spec).accessModes).map(asString);
  return asArray(asObject(pvc.spec).accessModes).every((m) => offered.includes(asString(m)));
}

/** kube's choice among fitting volumes: the smallest that is big enough. */
export function smallestFitting(pvs: readonly JsonObject[], pvc: JsonObject): JsonObject | null {
  let best: JsonObject | null = null;
  for (const pv of pvs)
    if (
      volumeFitsClaim(pv, pvc) &&
      (best === null || volumeCapacityBytes(pv) < volumeCapacityBytes(best))
    )
      best = pv;
  return best;
}
