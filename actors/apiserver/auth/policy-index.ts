/**
 * The RBAC objects of the cluster, indexed for the authorizer (what kube-apiserver's RBAC
 * authorizer reads through its four informers): ClusterRoles and Roles by name, bindings by
 * scope and by subject (a request walks only the bindings that name its user or groups). Pure: built from the objects, asked about users. `rulesFor` answers which rules apply
 * to a user in a namespace (escalation checks); `allows` stops at the first rule that allows.
 */
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import { serviceAccountUsername, type UserInfo } from "../../api/user-info.ts";
import type { Attributes } from "./attributes.ts";
import { type PolicyRule, type RoleRef, rulesAllow, type Subject } from "./rbac-rules.ts";

interface Binding {
  name: string;
  namespace: string;
  roleRef: RoleRef;
  subjects: Subject[];
}

export interface RbacObjects {
  clusterRoles: readonly JsonObject[];
  roles: readonly JsonObject[];
  clusterRoleBindings: readonly JsonObject[];
  roleBindings: readonly JsonObject[];
}

function rulesOf(role: JsonObject): PolicyRule[] {
  return asArray(role.rules).filter(
    (r) => typeof r === "object" && r !== null,
  ) as unknown as PolicyRule[];
}

function bindingOf(obj: JsonObject): Binding {
  const meta = asObject(obj.metadata);
  return {
    name: asString(meta.name),
    namespace: asString(meta.namespace),
    roleRef: asObject(obj.roleRef) as unknown as RoleRef,
    subjects: asArray(obj.subjects) as unknown as Subject[],
  };
}

/** The keys a subject is found under: `u:<user name>` (ServiceAccounts too) or `g:<group>`. */
function subjectKey(subject: Subject, bindingNamespace: string): string | null {
  switch (subject.kind) {
    case "User":
      return `u:${subject.name}`;
    case "Group":
      return `g:${subject.name}`;
    case "ServiceAccount": {
      const ns =
        subject.namespace && subject.namespace !== "" ? subject.namespace : bindingNamespace;
      return ns === "" ? null : `u:${serviceAccountUsername(ns, subject.name)}`;
    }
    default:
      return null;
  }
}

/** Bindings by the keys of their subjects, so that a request walks only its user's bindings. */
class BindingsBySubject {
  private readonly bySubject = new Map<string, Binding[]>();

  add(b: Binding): void {
    const keys = new Set<string>();
    for (const subject of b.subjects) {
      const key = subjectKey(subject, b.namespace);
      if (key !== null) keys.add(key);
    }
    for (const key of keys) {
      const list = this.bySubject.get(key) ?? [];
      list.push(b);
      this.bySubject.set(key, list);
    }
  }

  /** The bindings whose subjects include `user`, each once. */
  of(user: UserInfo): Binding[] {
    const out: Binding[] = [...(this.bySubject.get(`u:${user.username}`) ?? [])];
    for (const group of user.groups)
      for (const b of this.bySubject.get(`g:${group}`) ?? []) if (!out.includes(b)) out.push(b);
    return out;
  }
}

export class PolicyIndex {
  private readonly clusterRoles = new Map<string, PolicyRule[]>();
  private readonly roles = new Map<string, PolicyRule[]>();
  private readonly clusterRoleBindings = new BindingsBySubject();
  private readonly roleBindings = new Map<string, BindingsBySubject>();

  constructor(objects: RbacObjects) {
    for (const r of objects.clusterRoles)
      this.clusterRoles.set(asString(asObject(r.metadata).name), rulesOf(r));
    for (const r of objects.roles) {
      const m = asObject(r.metadata);
      this.roles.set(`${asString(m.namespace)}/${asString(m.name)}`, rulesOf(r));
    }
    for (const b of objects.clusterRoleBindings.map(bindingOf)) this.clusterRoleBindings.add(b);
    for (const b of objects.roleBindings.map(bindingOf)) {
      const bindings = this.roleBindings.get(b.namespace) ?? new BindingsBySubject();
      bindings.add(b);
      this.roleBindings.set(b.namespace, bindings);
    }
  }

  /** A binding's role's rules; a ClusterRoleBinding may only name a ClusterRole. */
  private roleRules(ref: RoleRef, bindingNamespace: string): PolicyRule[] {
    if (ref.kind === "ClusterRole") return this.clusterRoles.get(ref.name) ?? [];
    if (ref.kind === "Role" && bindingNamespace !== "")
      return this.roles.get(`${bindingNamespace}/${ref.name}`) ?? [];
    return [];
  }

  /** The reason an allowed request was allowed, or null (RBAC never denies: it has no opinion). */
  allows(a: Attributes): string | null {
    const user = a.user;
    for (const b of this.clusterRoleBindings.of(user)) {
      if (rulesAllow(this.roleRules(b.roleRef, ""), a))
        return `RBAC: allowed by ClusterRoleBinding "${b.name}" of ClusterRole "${b.roleRef.name}" to ${describe(user)}`;
    }
    const namespace = a.kind === "resource" ? a.namespace : "";
    if (namespace === "") return null;
    for (const b of this.roleBindings.get(namespace)?.of(user) ?? []) {
      if (rulesAllow(this.roleRules(b.roleRef, namespace), a))
        return `RBAC: allowed by RoleBinding "${b.name}/${namespace}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${describe(user)}`;
    }
    return null;
  }

  /** Every rule that applies to `user` in `namespace` ("" = cluster-wide only). */
  rulesFor(user: UserInfo, namespace: string): PolicyRule[] {
    const out: PolicyRule[] = [];
    for (const b of this.clusterRoleBindings.of(user)) out.push(...this.roleRules(b.roleRef, ""));
    if (namespace !== "")
      for (const b of this.roleBindings.get(namespace)?.of(user) ?? [])
        out.push(...this.roleRules(b.roleRef, namespace));
    return out;
  }

  /** The rules of the role a binding in `namespace` names (what granting it grants). */
  rulesOfRef(ref: RoleRef, namespace: string): PolicyRule[] {
    return this.roleRules(ref, namespace);
  }
}

function describe(user: UserInfo): string {
  return `User "${user.username}"`;
}
