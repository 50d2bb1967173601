/** Pod readiness as the workload controllers count it (`podutil.IsPodReady`/`IsPodAvailable`). */
import { asArray, asObject, isJsonObject, type JsonObject } from "../api/json.ts";
import { isBeingDeleted } from "./owner-references.ts";

export function isPodReady(pod: JsonObject): boolean {
  return asArray(asObject(pod.status).conditions).some(
    (c) => isJsonObject(c) && c.type === "Ready" && c.status === "True",
  );
}

/** Neither finished nor being deleted: counts towards a ReplicaSet's replicas. */
export function isPodActive(pod: JsonObject): boolean {
  const phase = asObject(pod.status).phase;
  return phase !== "Succeeded" && phase !== "Failed" && !isBeingDeleted(pod);
}
