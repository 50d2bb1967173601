/**
 * RBAC's matching rules, pure (kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go and
 * pkg/apis/rbac/v1/evaluation_helpers.go):
 * - a rule allows a resource request when its verbs, apiGroups, resources and resourceNames all
 *   match; `*` matches anything; `pods/log` names a subresource and `*` /`*\/log` match it;
 *   empty resourceNames match every name (so a rule with names never allows list or create);
 * - a rule allows a non-resource request when its verbs match and one of its nonResourceURLs is
 *   the path, or ends in `*` and is a prefix of it;
 * - a RoleBinding applies only to requests in its namespace; a ClusterRoleBinding to all
 *   (policy-index.ts, which also matches subjects: a User by name, a Group by membership, a
 *   ServiceAccount as `system:serviceaccount:<ns>:<name>`, its namespace defaulting to the
 *   binding's).
 */
import type { Attributes } from "./attributes.ts";

export interface PolicyRule {
  verbs: readonly string[];
  apiGroups?: readonly string[];
  resources?: readonly string[];
  resourceNames?: readonly string[];
  nonResourceURLs?: readonly string[];
}

export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface RoleRef {
  apiGroup?: string;
  kind: string;
  name: string;
}

export const ALL = "*";

function has(list: readonly string[] | undefined, value: string): boolean {
  if (list === undefined) return false;
  for (const item of list) if (item === ALL || item === value) return true;
  return false;
}

export function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource === "" ? resource : `${resource}/${subresource}`;
  for (const r of rule.resources ?? []) {
    if (r === ALL || r === combined) return true;
    if (subresource !== "" && r === `*/${subresource}`) return true;
  }
  return false;
}

function nameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

function nonResourceUrlMatches(rule: PolicyRule, path: string): boolean {
  for (const url of rule.nonResourceURLs ?? []) {
    if (url === ALL || url === path) return true;
    if (url.endsWith(ALL) && path.startsWith(url.slice(0, -1))) return true;
  }
  return false;
}

/** Whether one rule allows the request. */
export function ruleAllows(rule: PolicyRule, a: Attributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (a.kind === "nonResource") return nonResourceUrlMatches(rule, a.path);
  return (
    has(rule.apiGroups, a.apiGroup) &&
    resourceMatches(rule, a.resource, a.subresource) &&
    nameMatches(rule, a.name)
  );
}

export function rulesAllow(rules: readonly PolicyRule[], a: Attributes): boolean {
  for (const rule of rules) if (ruleAllows(rule, a)) return true;
  return false;
}
