/**
 * Taints and tolerations (core/v1): what a node repels and what a pod tolerates. The scheduler
 * filters and scores with them; the node lifecycle controller evicts with them.
 *
 * A toleration matches a taint when the effects match (an empty effect matches all), the keys
 * match (an empty key with operator Exists matches every key), and with Exists the value is
 * ignored while Equal (the default operator) needs equal values.
 */
import { asArray, asObject, asString, type JsonObject } from "./json.ts";

export interface Taint {
  key: string;
  value: string;
  effect: string;
}

export interface Toleration {
  key: string;
  operator: string;
  value: string;
  effect: string;
}

export function taintsOf(node: JsonObject): Taint[] {
  return asArray(asObject(node.spec).taints).map((t) => {
    const o = asObject(t);
    return { key: asString(o.key), value: asString(o.value), effect: asString(o.effect) };
  });
}

export function tolerationsOf(pod: JsonObject): Toleration[] {
  return asArray(asObject(pod.spec).tolerations).map((t) => {
    const o = asObject(t);
    return {
      key: asString(o.key),
      operator: asString(o.operator) || "Equal",
      value: asString(o.value),
      effect: asString(o.effect),
    };
  });
}

/** core/v1 `Toleration.ToleratesTaint`. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== "" && toleration.effect !== taint.effect) return false;
  if (toleration.key !== taint.key && !(toleration.key === "" && toleration.operator === "Exists"))
    return false;
  if (toleration.operator === "Exists") return true;
  if (toleration.operator === "Equal") return toleration.value === taint.value;
  return false;
}

export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}
