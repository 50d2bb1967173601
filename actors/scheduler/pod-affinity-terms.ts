/**
 * A pod's inter-pod (anti-)affinity terms, parsed once per pod (kube-scheduler's
 * `framework.AffinityTerm`): which pods a term selects (label selector + namespaces) and the
 * topology key that defines "the same place". Namespaces: the listed ones; none listed and no
 * `namespaceSelector` means the pod's own namespace; an empty `namespaceSelector` ({}) means
 * every namespace. A non-empty namespaceSelector would need namespace labels, which the
 * scheduler does not watch: such a term selects only the listed namespaces (documented gap).
 */
import { asArray, asObject, asString, type JsonObject, type JsonValue } from "../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelector,
  type LabelSelectorObject,
  type Labels,
  matches,
} from "../api/label-selector.ts";

export interface AffinityTerm {
  selector: LabelSelector;
  /** null = every namespace. */
  namespaces: ReadonlySet<string> | null;
  topologyKey: string;
}

export interface WeightedAffinityTerm {
  weight: number;
  term: AffinityTerm;
}

export interface PodAffinityTerms {
  requiredAffinity: AffinityTerm[];
  requiredAntiAffinity: AffinityTerm[];
  preferredAffinity: WeightedAffinityTerm[];
  preferredAntiAffinity: WeightedAffinityTerm[];
}

export const NO_AFFINITY_TERMS: Readonly<PodAffinityTerms> = Object.freeze({
  requiredAffinity: [],
  requiredAntiAffinity: [],
  preferredAffinity: [],
  preferredAntiAffinity: [],
});

function termOf(value: JsonValue, ownNamespace: string): AffinityTerm {
  const o = asObject(value);
  const listed = asArray(o.namespaces).map((n) => asString(n));
  const nsSelector = o.namespaceSelector;
  const everyNamespace =
    nsSelector !== undefined &&
    nsSelector !== null &&
    Object.keys(asObject(nsSelector)).length === 0;
  let namespaces: Set<string> | null = new Set(listed);
  if (everyNamespace) namespaces = null;
  else if (listed.length === 0 && (nsSelector === undefined || nsSelector === null))
    namespaces = new Set([ownNamespace]);
  const selectorObject = o.labelSelector as unknown as LabelSelectorObject | null | undefined;
  return {
    selector: fromLabelSelectorObject(selectorObject ?? null),
    namespaces,
    topologyKey: asString(o.topologyKey),
  };
}

function weighted(value: JsonValue, ownNamespace: string): WeightedAffinityTerm {
  const o = asObject(value);
  return { weight: Number(o.weight ?? 0), term: termOf(o.podAffinityTerm ?? {}, ownNamespace) };
}

export function affinityTermsOf(pod: JsonObject, ownNamespace: string): PodAffinityTerms {
  const affinity = asObject(asObject(pod.spec).affinity);
  if (affinity.podAffinity === undefined && affinity.podAntiAffinity === undefined)
    return NO_AFFINITY_TERMS;
  const a = asObject(affinity.podAffinity);
  const anti = asObject(affinity.podAntiAffinity);
  return {
    requiredAffinity: asArray(a.requiredDuringSchedulingIgnoredDuringExecution).map((t) =>
      termOf(t, ownNamespace),
    ),
    requiredAntiAffinity: asArray(anti.requiredDuringSchedulingIgnoredDuringExecution).map((t) =>
      termOf(t, ownNamespace),
    ),
    preferredAffinity: asArray(a.preferredDuringSchedulingIgnoredDuringExecution).map((t) =>
      weighted(t, ownNamespace),
    ),
    preferredAntiAffinity: asArray(anti.preferredDuringSchedulingIgnoredDuringExecution).map((t) =>
      weighted(t, ownNamespace),
    ),
  };
}

export function hasAffinityTerms(t: PodAffinityTerms): boolean {
  return (
    t.requiredAffinity.length +
      t.requiredAntiAffinity.length +
      t.preferredAffinity.length +
      t.preferredAntiAffinity.length >
    0
  );
}

/** Whether `term` selects a pod with these labels in this namespace. */
export function termSelects(term: AffinityTerm, namespace: string, labels: Labels): boolean {
  if (term.namespaces !== null && !term.namespaces.has(namespace)) return false;
  return matches(term.selector, labels);
}
