/**
 * The disruption controller (kube-controller-manager's `disruption`): keeps each
 * PodDisruptionBudget's status — how many of its pods there are (`expectedPods`), how many are
 * healthy (Ready and not being deleted: `currentHealthy`), how many must stay so
 * (`desiredHealthy`, from `minAvailable` or `maxUnavailable`, a number or a percentage of the
 * expected pods) and so how many may go now (`disruptionsAllowed`), with the
 * `DisruptionAllowed` condition. The scheduler's preemption reads `disruptionsAllowed`.
 *
 * Simplification: kube takes the expected count for percentages and maxUnavailable from the
 * pods' controllers' scale; bosun counts the selected pods that are not finished or deleted.
 */
import { asObject, asString, isJsonObject, type JsonObject } from "../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelectorObject,
  matches,
} from "../api/label-selector.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { resolveIntOrPercent } from "./deployment-rollout.ts";
import { isPodActive, isPodReady } from "./pod-conditions.ts";

export const PDBS = "poddisruptionbudgets.policy";

/** The budget's selector (null selects nothing), or null when it cannot be parsed. */
function selects(pdb: JsonObject, pod: JsonObject): boolean {
  const raw = asObject(pdb.spec).selector;
  if (!isJsonObject(raw)) return false;
  try {
    const selector = fromLabelSelectorObject(raw as unknown as LabelSelectorObject);
    const labels = asObject(asObject(pod.metadata).labels) as Record<string, string>;
    return matches(selector, labels);
  } catch {
    return false;
  }
}

/** The status a budget should have over `pods` (those of its namespace). Pure. */
export function planPdbStatus(
  pdb: JsonObject,
  pods: readonly JsonObject[],
  nowMs: number,
): JsonObject {
  const selected = pods.filter((p) => selects(pdb, p) && isPodActive(p));
  const expectedPods = selected.length;
  const currentHealthy = selected.filter(isPodReady).length;
  const spec = asObject(pdb.spec);
  const desiredHealthy =
    spec.maxUnavailable !== undefined
      ? Math.max(0, expectedPods - resolveIntOrPercent(spec.maxUnavailable, expectedPods, true))
      : resolveIntOrPercent(spec.minAvailable ?? 1, expectedPods, true);
  const disruptionsAllowed = Math.max(0, currentHealthy - desiredHealthy);
  const old = asObject(pdb.status);
  const oldCondition = (Array.isArray(old.conditions) ? old.conditions : []).find(
    (c) => isJsonObject(c) && c.type === "DisruptionAllowed",
  ) as JsonObject | undefined;
  const allowed = disruptionsAllowed > 0 ? "True" : "False";
  const condition: JsonObject = {
    type: "DisruptionAllowed",
    status: allowed,
    reason: allowed === "True" ? "SufficientPods" : "InsufficientPods",
    message: "",
    observedGeneration: asObject(pdb.metadata).generation ?? 1,
    lastTransitionTime:
      oldCondition?.status === allowed
        ? (oldCondition.lastTransitionTime ?? rfc3339(nowMs))
        : rfc3339(nowMs),
  };
  return {
    observedGeneration: asObject(pdb.metadata).generation ?? 1,
    disruptionsAllowed,
    currentHealthy,
    desiredHealthy,
    expectedPods,
    conditions: [condition],
  };
}

/** Same numbers and condition status: no write needed. */
function sameStatus(a: JsonObject, b: JsonObject): boolean {
  const core = (s: JsonObject) =>
    JSON.stringify([
      s.observedGeneration,
      s.disruptionsAllowed,
      s.currentHealthy,
      s.desiredHealthy,
      s.expectedPods,
      (asObject((s.conditions as JsonObject[] | undefined)?.[0]) as JsonObject).status,
    ]);
  return core(a) === core(b);
}

export function disruptionController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache, clock } = ctx;

  /** A pod's change reaches the budgets of its namespace that select it (before or after). */
  const budgetsOf = (pod: JsonObject, previous?: JsonObject): ObjectKey[] => {
    const namespace = asString(asObject(pod.metadata).namespace) || "default";
    return cache
      .list(PDBS, namespace)
      .filter((pdb) => selects(pdb, pod) || (previous !== undefined && selects(pdb, previous)))
      .map((pdb) => ({ namespace, name: asString(asObject(pdb.metadata).name) }));
  };

  async function reconcile(key: ObjectKey) {
    const pdb = cache.get(PDBS, key);
    if (!pdb) return undefined;
    const status = planPdbStatus(pdb, cache.list("pods", key.namespace), clock.wallMs());
    if (sameStatus(status, asObject(pdb.status))) return undefined;
    try {
      await api.update(
        PDBS,
        { ...pdb, status },
        { namespace: key.namespace, subresource: "status" },
      );
    } catch (error) {
      // deleted meanwhile, or changed: the informer brings the newer version back here
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
    return undefined;
  }

  return {
    name: "disruption",
    primary: PDBS,
    watches: [{ resource: "pods", map: (pod, _event, previous) => budgetsOf(pod, previous) }],
    reconcile,
  };
}
