/**
 * RBAC's escalation prevention (pkg/registry/rbac/{role,clusterrole,rolebinding,
 * clusterrolebinding}/policybased): writing a Role or ClusterRole is allowed only when the writer
 * already holds every rule it grants (in that namespace, or cluster-wide for a ClusterRole), or
 * may `escalate` on it; writing a binding only when the writer holds every rule of the role it
 * names, or may `bind` that role. Members of `system:masters` hold everything. An aggregated
 * ClusterRole's rules come from other roles, so writing its aggregationRule needs `escalate` or
 * every permission there is.
 */
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import type { ResourceInfo } from "../../api/resources.ts";
import { forbiddenRequestStatus } from "../../api/status.ts";
import type { UserInfo } from "../../api/user-info.ts";
import { ApiError } from "../../client/errors.ts";
import type { Authorization } from "./authorization.ts";
import { RBAC_GROUP } from "./bootstrap-policy.ts";
import type { PolicyRule, RoleRef } from "./rbac-rules.ts";
import { formatRule, uncoveredRules } from "./rule-coverage.ts";

const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
  { verbs: ["*"], nonResourceURLs: ["*"] },
];

export const RBAC_KINDS = new Set(["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]);

/** Throws a 403 unless `user` may write `object` (a Role, ClusterRole or binding) as it is. */
export async function confirmNoEscalation(
  authorization: Authorization,
  user: UserInfo,
  r: ResourceInfo,
  object: JsonObject,
): Promise<void> {
  if (!authorization.enabled || r.group !== RBAC_GROUP) return;
  const meta = asObject(object.metadata);
  const name = asString(meta.name);
  const namespace = r.namespaced ? asString(meta.namespace) : "";
  const may = async (verb: string, resource: string, resourceName: string) =>
    (
      await authorization.authorize({
        kind: "resource",
        user,
        verb,
        apiGroup: RBAC_GROUP,
        resource,
        subresource: "",
        namespace,
        name: resourceName,
      })
    ).decision === "allow";
  const policy = await authorization.policy();
  const held = user.groups.includes("system:masters")
    ? FULL_AUTHORITY
    : policy.rulesFor(user, namespace);
  let granted: PolicyRule[];
  if (r.kind === "Role" || r.kind === "ClusterRole") {
    if (await may("escalate", r.plural, name)) return;
    granted = asArray(object.rules) as unknown as PolicyRule[];
    if (
      r.kind === "ClusterRole" &&
      object.aggregationRule !== undefined &&
      object.aggregationRule !== null
    )
      granted = [...granted, ...FULL_AUTHORITY];
  } else {
    const roleRef = asObject(object.roleRef);
    const ref: RoleRef = { kind: asString(roleRef.kind), name: asString(roleRef.name) };
    const roleResource = ref.kind === "ClusterRole" ? "clusterroles" : "roles";
    if (await may("bind", roleResource, ref.name)) return;
    granted = policy.rulesOfRef(ref, namespace);
  }
  const missing = uncoveredRules(held, granted);
  if (missing.length === 0) return;
  throw new ApiError(
    forbiddenRequestStatus(
      { group: r.group, resource: r.plural },
      name,
      `user "${user.username}" (groups=${JSON.stringify(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.map(formatRule).join("\n")}`,
    ),
  );
}
