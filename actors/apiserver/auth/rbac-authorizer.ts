/**
 * The RBAC authorizer (plugin/pkg/auth/authorizer/rbac): allows what some binding of the user
 * grants, and otherwise has no opinion. It reads the four RBAC collections from this API
 * server's watch cache (what kube-apiserver's RBAC informers hold), and rebuilds its index only
 * when one of them changed: a request costs four cached lists and a walk of the bindings.
 */
import { asObject, asString, type JsonObject } from "../../api/json.ts";
import { type ResourceInfo, resourceByPlural } from "../../api/resources.ts";
import type { ObjectStore } from "../object-store.ts";
import { collectionPrefix } from "../registry-keys.ts";
import {
  type Attributes,
  type Authorizer,
  type AuthorizerAnswer,
  NO_OPINION,
} from "./attributes.ts";
import { RBAC_GROUP } from "./bootstrap-policy.ts";
import { PolicyIndex } from "./policy-index.ts";

const KINDS = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"] as const;
const RBAC_RESOURCES = KINDS.map((plural) => resourceByPlural(plural, RBAC_GROUP) as ResourceInfo);

/** A collection's fingerprint: its size and newest resourceVersion (any write moves one). */
function fingerprint(items: readonly JsonObject[]): string {
  let newest = 0;
  for (const item of items) {
    const rv = Number(asString(asObject(item.metadata).resourceVersion));
    if (rv > newest) newest = rv;
  }
  return `${items.length}@${newest}`;
}

export class RbacAuthorizer implements Authorizer {
  private index: PolicyIndex | null = null;
  private indexed = "";

  constructor(private readonly store: ObjectStore) {}

  /** The policy as this server's cache has it now. */
  async policy(): Promise<PolicyIndex> {
    const lists = await Promise.all(
      RBAC_RESOURCES.map((r) =>
        this.store.list(collectionPrefix(r, null), { serializable: true, cached: true }),
      ),
    );
    const key = lists.map((l) => fingerprint(l.items)).join(",");
    if (this.index === null || key !== this.indexed) {
      const [clusterRoles, roles, clusterRoleBindings, roleBindings] = lists.map((l) => l.items);
      this.index = new PolicyIndex({
        clusterRoles: clusterRoles ?? [],
        roles: roles ?? [],
        clusterRoleBindings: clusterRoleBindings ?? [],
        roleBindings: roleBindings ?? [],
      });
      this.indexed = key;
    }
    return this.index;
  }

  async authorize(attributes: Attributes): Promise<AuthorizerAnswer> {
    const reason = (await this.policy()).allows(attributes);
    return reason === null ? NO_OPINION : { decision: "allow", reason };
  }
}
