/**
 * The ClusterRole aggregation controller (kube-controller-manager's `clusterrole-aggregation`):
 * a ClusterRole with an `aggregationRule` gets as its rules the union of the rules of every
 * ClusterRole its `clusterRoleSelectors` select (itself excluded), in name order, without
 * duplicates. So `admin`, `edit` and `view` grow with every role labelled
 * `rbac.authorization.k8s.io/aggregate-to-*`: `edit` is labelled aggregate-to-admin and `view`
 * aggregate-to-edit, so one update ripples up, each role's write waking the next.
 */
import {
  asArray,
  asObject,
  asString,
  isJsonObject,
  type JsonObject,
  type JsonValue,
} from "../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelectorObject,
  matches,
} from "../api/label-selector.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";

export const CLUSTER_ROLES = "clusterroles.rbac.authorization.k8s.io";

function selectorsOf(role: JsonObject): LabelSelectorObject[] {
  const rule = asObject(role.aggregationRule);
  return asArray(rule.clusterRoleSelectors).filter(
    isJsonObject,
  ) as unknown as LabelSelectorObject[];
}

function selectedBy(selectors: readonly LabelSelectorObject[], role: JsonObject): boolean {
  const labels = asObject(asObject(role.metadata).labels) as Record<string, string>;
  return selectors.some((s) => {
    try {
      return matches(fromLabelSelectorObject(s), labels);
    } catch {
      return false;
    }
  });
}

/** The rules an aggregated ClusterRole should have among `all` ClusterRoles, or null if it aggregates nothing. Pure. */
export function aggregatedRules(role: JsonObject, all: readonly JsonObject[]): JsonValue[] | null {
  if (!isJsonObject(role.aggregationRule)) return null;
  const selectors = selectorsOf(role);
  const name = asString(asObject(role.metadata).name);
  const seen = new Set<string>();
  const rules: JsonValue[] = [];
  const sources = all
    .filter((r) => asString(asObject(r.metadata).name) !== name && selectedBy(selectors, r))
    .sort((a, b) =>
      asString(asObject(a.metadata).name).localeCompare(asString(asObject(b.metadata).name)),
    );
  for (const source of sources)
    for (const rule of asArray(source.rules)) {
      const text = JSON.stringify(rule);
      if (seen.has(text)) continue;
      seen.add(text);
      rules.push(rule);
    }
  return rules;
}

export function clusterRoleAggregationController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache } = ctx;

  /** Any ClusterRole's change may change what each aggregated role selects. */
  const aggregatedRoles = (): ObjectKey[] =>
    cache
      .list(CLUSTER_ROLES)
      .filter((r) => isJsonObject(r.aggregationRule))
      .map((r) => ({ namespace: "", name: asString(asObject(r.metadata).name) }));

  async function reconcile(key: ObjectKey) {
    const role = cache.get(CLUSTER_ROLES, key);
    if (!role) return undefined;
    const rules = aggregatedRules(role, cache.list(CLUSTER_ROLES));
    if (rules === null || JSON.stringify(rules) === JSON.stringify(asArray(role.rules)))
      return undefined;
    try {
      await api.update(CLUSTER_ROLES, { ...role, rules });
    } catch (error) {
      // deleted or changed meanwhile: the informer brings the newer version back here
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
    return undefined;
  }

  return {
    name: "clusterrole-aggregation",
    primary: CLUSTER_ROLES,
    watches: [{ resource: CLUSTER_ROLES, map: () => aggregatedRoles() }],
    reconcile,
  };
}
