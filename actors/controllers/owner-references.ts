/**
 * ownerReferences (apimachinery `metav1.OwnerReference`): who controls an object, and the
 * references a controller writes on what it creates. Pure.
 */
import { asArray, asObject, isJsonObject, type JsonObject } from "../api/json.ts";

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export function ownerReferencesOf(object: JsonObject): OwnerReference[] {
  return asArray(asObject(object.metadata).ownerReferences)
    .filter(isJsonObject)
    .map((r) => r as unknown as OwnerReference);
}

/** `metav1.GetControllerOf`: the reference with `controller: true`, if any. */
export function controllerOf(object: JsonObject): OwnerReference | undefined {
  return ownerReferencesOf(object).find((r) => r.controller === true);
}

export function uidOf(object: JsonObject): string {
  return String(asObject(object.metadata).uid ?? "");
}

export function nameOf(object: JsonObject): string {
  return String(asObject(object.metadata).name ?? "");
}

export function namespaceOf(object: JsonObject): string {
  const ns = asObject(object.metadata).namespace;
  return typeof ns === "string" ? ns : "";
}

export function isBeingDeleted(object: JsonObject): boolean {
  const ts = asObject(object.metadata).deletionTimestamp;
  return typeof ts === "string" && ts !== "";
}

/** `metav1.NewControllerRef`: what a controller stamps on the objects it creates or adopts. */
export function newControllerRef(owner: JsonObject): OwnerReference {
  return {
    apiVersion: String(owner.apiVersion ?? ""),
    kind: String(owner.kind ?? ""),
    name: nameOf(owner),
    uid: uidOf(owner),
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** `object` with its ownerReferences replaced. */
export function withOwnerReferences(object: JsonObject, refs: OwnerReference[]): JsonObject {
  const metadata = { ...asObject(object.metadata) };
  if (refs.length === 0) delete metadata.ownerReferences;
  else metadata.ownerReferences = refs as unknown as JsonObject[];
  return { ...object, metadata };
}
