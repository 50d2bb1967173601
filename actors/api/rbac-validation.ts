/**
 * Validation of RBAC objects (pkg/apis/rbac/validation): every rule names verbs, and a resource
 * rule its API groups and resources; non-resource URLs only in ClusterRoles and never beside
 * resources; a binding's roleRef is a Role or ClusterRole of rbac.authorization.k8s.io (a
 * ClusterRoleBinding's only a ClusterRole) and may not change; subjects are Users, Groups and
 * ServiceAccounts with names (a ClusterRoleBinding's ServiceAccounts with namespaces).
 */
import { child, type FieldError, index, invalid, notSupported, required } from "./field-error.ts";
import { asArray, asObject, asString, isJsonObject, type JsonObject } from "./json.ts";
import { validateImmutable } from "./object-meta.ts";

const RBAC_GROUP = "rbac.authorization.k8s.io";

function validateRules(obj: JsonObject, clusterScoped: boolean): FieldError[] {
  const errs: FieldError[] = [];
  asArray(obj.rules).forEach((raw, i) => {
    const path = index("rules", i);
    const rule = asObject(raw);
    if (asArray(rule.verbs).length === 0)
      errs.push(required(child(path, "verbs"), "verbs must contain at least one value"));
    const urls = asArray(rule.nonResourceURLs);
    if (urls.length > 0) {
      if (!clusterScoped)
        errs.push(
          invalid(
            child(path, "nonResourceURLs"),
            urls,
            "namespaced rules cannot apply to non-resource URLs",
          ),
        );
      if (asArray(rule.apiGroups).length > 0 || asArray(rule.resources).length > 0)
        errs.push(
          invalid(
            child(path, "nonResourceURLs"),
            urls,
            "rules cannot apply to both regular resources and non-resource URLs",
          ),
        );
      return;
    }
    if (asArray(rule.apiGroups).length === 0)
      errs.push(
        required(child(path, "apiGroups"), "resource rules must supply at least one api group"),
      );
    if (asArray(rule.resources).length === 0)
      errs.push(
        required(child(path, "resources"), "resource rules must supply at least one resource"),
      );
  });
  return errs;
}

function validateBinding(obj: JsonObject, clusterScoped: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!isJsonObject(obj.roleRef)) return [required("roleRef", "")];
  const ref = obj.roleRef;
  const kinds = clusterScoped ? ["ClusterRole"] : ["Role", "ClusterRole"];
  if (asString(ref.apiGroup) !== RBAC_GROUP)
    errs.push(notSupported("roleRef.apiGroup", asString(ref.apiGroup), [RBAC_GROUP]));
  if (!kinds.includes(asString(ref.kind)))
    errs.push(notSupported("roleRef.kind", asString(ref.kind), kinds));
  if (asString(ref.name) === "") errs.push(required("roleRef.name", ""));
  asArray(obj.subjects).forEach((raw, i) => {
    const path = index("subjects", i);
    const s = asObject(raw);
    const kind = asString(s.kind);
    if (!["User", "Group", "ServiceAccount"].includes(kind))
      errs.push(notSupported(child(path, "kind"), kind, ["ServiceAccount", "User", "Group"]));
    if (asString(s.name) === "") errs.push(required(child(path, "name"), ""));
    if (kind === "ServiceAccount" && clusterScoped && asString(s.namespace) === "")
      errs.push(required(child(path, "namespace"), ""));
  });
  return errs;
}

export function validateRbacObject(kind: string, obj: JsonObject): FieldError[] {
  switch (kind) {
    case "Role":
      return validateRules(obj, false);
    case "ClusterRole":
      return validateRules(obj, true);
    case "RoleBinding":
      return validateBinding(obj, false);
    case "ClusterRoleBinding":
      return validateBinding(obj, true);
    default:
      return [];
  }
}

/** A binding's roleRef may not change (delete and recreate the binding instead). */
export function validateRbacUpdate(kind: string, obj: JsonObject, old: JsonObject): FieldError[] {
  if (kind !== "RoleBinding" && kind !== "ClusterRoleBinding") return [];
  return validateImmutable(obj.roleRef, old.roleRef, "roleRef").map((e) => ({
    ...e,
    detail: "cannot change roleRef",
  }));
}
