/**
 * An `audit.k8s.io/v1` Policy (kube-apiserver's `--audit-policy-file`) and the rule checker that
 * decides, per request, at which level it is recorded and which stages are left out. Pure: the
 * filter (audit.ts) asks, the log (audit-log.ts) writes.
 *
 * Semantics follow apiserver's `pkg/audit/policy/checker.go`: rules are tried in order, the first
 * that matches decides; no match (or no policy) means level None. A rule with `resources` or
 * `namespaces` matches only resource requests, one with `nonResourceURLs` only the others.
 */
import { parse as parseYaml } from "yaml";

export type AuditLevel = "None" | "Metadata" | "Request" | "RequestResponse";
export type AuditStage = "RequestReceived" | "ResponseStarted" | "ResponseComplete" | "Panic";

const LEVELS: readonly AuditLevel[] = ["None", "Metadata", "Request", "RequestResponse"];
const STAGES: readonly AuditStage[] = [
  "RequestReceived",
  "ResponseStarted",
  "ResponseComplete",
  "Panic",
];

export interface GroupResources {
  /** The API group; "" is the core group. */
  group?: string;
  /** `pods`, `pods/log`, `*`, `*\/status`, `pods/*`; empty: every resource of the group. */
  resources?: string[];
  resourceNames?: string[];
}

export interface AuditPolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  /** "" matches cluster-scoped resources. */
  namespaces?: string[];
  /** Exact paths, or prefixes ending in `*`. */
  nonResourceURLs?: string[];
  omitStages?: AuditStage[];
}

export interface AuditPolicy {
  rules: AuditPolicyRule[];
  /** Left out of every rule's events, in addition to the rule's own. */
  omitStages: AuditStage[];
  /** Each rule's decision, made once at parse time (the checker runs on every request). */
  decisions: AuditDecision[];
}

/** What the checker needs of a request (apiserver's `authorizer.Attributes`). */
export interface AuditAttributes {
  user: { username: string; groups: readonly string[] };
  verb: string;
  /** null for a non-resource request (`/healthz`, `/apis`, a path that names nothing). */
  resource: {
    group: string;
    resource: string;
    subresource: string | null;
    namespace: string | null;
    name: string | null;
  } | null;
  path: string;
}

export interface AuditDecision {
  level: AuditLevel;
  omitStages: ReadonlySet<AuditStage>;
}

const NONE: AuditDecision = { level: "None", omitStages: new Set() };

export function auditDecision(policy: AuditPolicy, attrs: AuditAttributes): AuditDecision {
  const i = policy.rules.findIndex((r) => ruleMatches(r, attrs));
  return i < 0 ? NONE : (policy.decisions[i] as AuditDecision);
}

/** True when `level` records at least as much as `atLeast`. */
export function levelAtLeast(level: AuditLevel, atLeast: AuditLevel): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(atLeast);
}

function listed(list: readonly string[] | undefined, value: string): boolean {
  return list === undefined || list.length === 0 || list.includes(value);
}

function ruleMatches(rule: AuditPolicyRule, attrs: AuditAttributes): boolean {
  if (!listed(rule.users, attrs.user.username)) return false;
  if (
    rule.userGroups !== undefined &&
    rule.userGroups.length > 0 &&
    !attrs.user.groups.some((g) => rule.userGroups?.includes(g))
  )
    return false;
  if (!listed(rule.verbs, attrs.verb)) return false;
  if ((rule.resources?.length ?? 0) > 0 || (rule.namespaces?.length ?? 0) > 0)
    return ruleMatchesResource(rule, attrs);
  if ((rule.nonResourceURLs?.length ?? 0) > 0) return ruleMatchesNonResource(rule, attrs);
  return true;
}

function ruleMatchesNonResource(rule: AuditPolicyRule, attrs: AuditAttributes): boolean {
  if (attrs.resource !== null) return false;
  return (rule.nonResourceURLs ?? []).some((url) =>
    url.endsWith("*") ? attrs.path.startsWith(url.slice(0, -1)) : attrs.path === url,
  );
}

function ruleMatchesResource(rule: AuditPolicyRule, attrs: AuditAttributes): boolean {
  const r = attrs.resource;
  if (r === null) return false;
  if (!listed(rule.namespaces, r.namespace ?? "")) return false;
  if (rule.resources === undefined || rule.resources.length === 0) return true;
  const combined = r.subresource === null ? r.resource : `${r.resource}/${r.subresource}`;
  return rule.resources.some((gr) => {
    if ((gr.group ?? "") !== r.group) return false;
    if (gr.resources === undefined || gr.resources.length === 0) return true;
    if (!listed(gr.resourceNames, r.name ?? "")) return false;
    return gr.resources.some(
      (res) =>
        res === combined ||
        res === "*" ||
        (r.subresource !== null && res.startsWith("*/") && res.slice(2) === r.subresource) ||
        (res.endsWith("/*") && res.slice(0, -2) === r.resource),
    );
  });
}

function stringList(value: unknown, where: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new Error(`audit policy: ${where} must be a list of strings`);
  return value as string[];
}

function stageList(value: unknown, where: string): AuditStage[] {
  const list = stringList(value, where) ?? [];
  for (const s of list)
    if (!STAGES.includes(s as AuditStage))
      throw new Error(`audit policy: ${where}: unknown stage ${JSON.stringify(s)}`);
  return list as AuditStage[];
}

function parseRule(raw: unknown, i: number): AuditPolicyRule {
  const where = `rules[${i}]`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new Error(`audit policy: ${where} must be an object`);
  const r = raw as Record<string, unknown>;
  if (!LEVELS.includes(r.level as AuditLevel))
    throw new Error(`audit policy: ${where}.level must be one of ${LEVELS.join(", ")}`);
  const rule: AuditPolicyRule = { level: r.level as AuditLevel };
  for (const key of ["users", "userGroups", "verbs", "namespaces", "nonResourceURLs"] as const) {
    const list = stringList(r[key], `${where}.${key}`);
    if (list !== undefined) rule[key] = list;
  }
  if (r.resources !== undefined && r.resources !== null) {
    if (!Array.isArray(r.resources))
      throw new Error(`audit policy: ${where}.resources must be a list`);
    rule.resources = r.resources.map((g: unknown, j: number) => {
      const gw = `${where}.resources[${j}]`;
      if (typeof g !== "object" || g === null)
        throw new Error(`audit policy: ${gw} must be an object`);
      const gr = g as Record<string, unknown>;
      if (gr.group !== undefined && typeof gr.group !== "string")
        throw new Error(`audit policy: ${gw}.group must be a string`);
      const out: GroupResources = { group: (gr.group as string | undefined) ?? "" };
      const resources = stringList(gr.resources, `${gw}.resources`);
      if (resources !== undefined) out.resources = resources;
      const names = stringList(gr.resourceNames, `${gw}.resourceNames`);
      if (names !== undefined) out.resourceNames = names;
      return out;
    });
  }
  if ((rule.nonResourceURLs?.length ?? 0) > 0 && (rule.resources?.length ?? 0) > 0)
    throw new Error(`audit policy: ${where} names both resources and nonResourceURLs`);
  const omit = stageList(r.omitStages, `${where}.omitStages`);
  if (omit.length > 0) rule.omitStages = omit;
  return rule;
}

/** A Policy document (YAML or JSON); throws with the reason when it is not one. */
export function parseAuditPolicy(text: string): AuditPolicy {
  const doc = parseYaml(text) as unknown;
  if (typeof doc !== "object" || doc === null) throw new Error("audit policy: not an object");
  const d = doc as Record<string, unknown>;
  if (d.apiVersion !== "audit.k8s.io/v1" || d.kind !== "Policy")
    throw new Error("audit policy: want apiVersion audit.k8s.io/v1, kind Policy");
  if (!Array.isArray(d.rules) || d.rules.length === 0)
    throw new Error("audit policy: rules must be a non-empty list");
  const rules = d.rules.map(parseRule);
  const omitStages = stageList(d.omitStages, "omitStages");
  const decisions = rules.map((rule) => ({
    level: rule.level,
    omitStages: new Set([...omitStages, ...(rule.omitStages ?? [])]),
  }));
  return { rules, omitStages, decisions };
}
