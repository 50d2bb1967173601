/**
 * Whether one set of rules covers another (pkg/registry/rbac/validation's `Covers`): the
 * servant's rules are broken down into rules of one verb on one group/resource/name (or one
 * non-resource URL), and each piece must be allowed by some owner rule, a `*` in the servant
 * matching only a `*` in the owner. RBAC's escalation check: you may grant only what you hold.
 */
import { ALL, type PolicyRule } from "./rbac-rules.ts";

function ownerHas(owner: readonly string[] | undefined, value: string): boolean {
  return owner !== undefined && (owner.includes(ALL) || owner.includes(value));
}

function resourceCovers(owner: readonly string[] | undefined, servant: string): boolean {
  if (ownerHas(owner, servant)) return true;
  const slash = servant.indexOf("/");
  // `*/log` in the owner covers `pods/log`
  return slash > 0 && owner !== undefined && owner.includes(`*${servant.slice(slash)}`);
}

function urlCovers(owner: readonly string[] | undefined, servant: string): boolean {
  for (const url of owner ?? []) {
    if (url === ALL || url === servant) return true;
    if (url.endsWith(ALL) && servant.startsWith(url.slice(0, -1))) return true;
  }
  return false;
}

function covers(owner: PolicyRule, piece: PolicyRule): boolean {
  const verb = piece.verbs[0] as string;
  if (!ownerHas(owner.verbs, verb)) return false;
  if (piece.nonResourceURLs && piece.nonResourceURLs.length > 0)
    return urlCovers(owner.nonResourceURLs, piece.nonResourceURLs[0] as string);
  if (!ownerHas(owner.apiGroups, piece.apiGroups?.[0] ?? "")) return false;
  if (!resourceCovers(owner.resources, piece.resources?.[0] ?? "")) return false;
  const ownerNames = owner.resourceNames ?? [];
  if (ownerNames.length === 0) return true;
  const name = piece.resourceNames?.[0];
  return name !== undefined && ownerNames.includes(name);
}

/** One rule as its pieces (validation.BreakdownRule). */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const verb of rule.verbs) {
    for (const url of rule.nonResourceURLs ?? [])
      out.push({ verbs: [verb], nonResourceURLs: [url] });
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? []) {
        const names = rule.resourceNames ?? [];
        if (names.length === 0)
          out.push({ verbs: [verb], apiGroups: [group], resources: [resource] });
        for (const name of names)
          out.push({
            verbs: [verb],
            apiGroups: [group],
            resources: [resource],
            resourceNames: [name],
          });
      }
  }
  return out;
}

/** The pieces of `servant` no owner rule covers (empty: covered). */
export function uncoveredRules(
  owner: readonly PolicyRule[],
  servant: readonly PolicyRule[],
): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const rule of servant)
    for (const piece of breakdownRule(rule))
      if (!owner.some((o) => covers(o, piece))) missing.push(piece);
  return missing;
}

/** A rule as Kubernetes prints it in a refusal: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`. */
export function formatRule(rule: PolicyRule): string {
  const parts: string[] = [];
  const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(" ")}]`;
  if (rule.apiGroups?.length) parts.push(`APIGroups:${list(rule.apiGroups)}`);
  if (rule.resources?.length) parts.push(`Resources:${list(rule.resources)}`);
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${list(rule.resourceNames)}`);
  if (rule.nonResourceURLs?.length) parts.push(`NonResourceURLs:${list(rule.nonResourceURLs)}`);
  parts.push(`Verbs:${list(rule.verbs)}`);
  return `{${parts.join(", ")}}`;
}
