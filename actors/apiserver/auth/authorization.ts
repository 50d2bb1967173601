/**
 * Authorization for every request this API server serves, HTTPS or internal (kube-apiserver's
 * union authorizer in its default order `Node,RBAC`): members of `system:masters` are allowed
 * before anyone is asked; then the Node authorizer, then RBAC; the first that allows or denies
 * decides, and nobody allowing is a 403 worded as Kubernetes words it. `enabled: false` (the
 * benchmark's baseline, `--authorization-mode=AlwaysAllow`) allows everything.
 */
import { forbiddenRequestStatus, type GroupResource } from "../../api/status.ts";
import { SYSTEM_MASTERS, type UserInfo } from "../../api/user-info.ts";
import { ApiError } from "../../client/errors.ts";
import type { ObjectStore } from "../object-store.ts";
import type { ResourceRequest } from "../request-info.ts";
import type { Attributes, AuthorizerAnswer } from "./attributes.ts";
import { NodeAuthorizer } from "./node-authorizer.ts";
import type { PolicyIndex } from "./policy-index.ts";
import { RbacAuthorizer } from "./rbac-authorizer.ts";

export class Authorization {
  private readonly node: NodeAuthorizer;
  readonly rbac: RbacAuthorizer;

  constructor(
    store: ObjectStore,
    readonly enabled = true,
  ) {
    this.node = new NodeAuthorizer(store);
    this.rbac = new RbacAuthorizer(store);
  }

  async authorize(a: Attributes): Promise<AuthorizerAnswer> {
    if (!this.enabled) return { decision: "allow", reason: "authorization is off" };
    if (a.user.groups.includes(SYSTEM_MASTERS))
      return { decision: "allow", reason: `member of ${SYSTEM_MASTERS}` };
    const node = await this.node.authorize(a);
    if (node.decision !== "noOpinion") return node;
    return this.rbac.authorize(a);
  }

  policy(): Promise<PolicyIndex> {
    return this.rbac.policy();
  }

  /** Stops RBAC's watch (the server is stopping). */
  stop(): void {
    this.rbac.stop();
  }

  /** Throws the 403 Kubernetes answers unless `a` is allowed. */
  async require(a: Attributes): Promise<void> {
    const answer = await this.authorize(a);
    if (answer.decision === "allow") return;
    throw new ApiError(forbidden(a, answer.reason));
  }
}

/** The attributes of a resource request by `user`. */
export function resourceAttributes(
  user: UserInfo,
  request: ResourceRequest,
  verb: string = request.verb,
): Attributes {
  return {
    kind: "resource",
    user,
    verb,
    apiGroup: request.resource.group,
    resource: request.resource.plural,
    subresource: request.subresource ?? "",
    namespace: request.namespace ?? "",
    name: request.name ?? "",
  };
}

/** `User "alice" cannot list resource "pods" in API group "" in the namespace "default"` (+ why). */
export function forbiddenMessage(a: Attributes): string {
  if (a.kind === "nonResource")
    return `User "${a.user.username}" cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource === "" ? a.resource : `${a.resource}/${a.subresource}`;
  const scope = a.namespace === "" ? "at the cluster scope" : `in the namespace "${a.namespace}"`;
  return `User "${a.user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
}

export function forbidden(a: Attributes, reason: string) {
  const message = reason === "" ? forbiddenMessage(a) : `${forbiddenMessage(a)}: ${reason}`;
  if (a.kind === "nonResource")
    return {
      ...forbiddenRequestStatus({ group: "", resource: "" }, "", message),
      message: `forbidden: ${message}`,
    };
  const gr: GroupResource = { group: a.apiGroup, resource: a.resource };
  return forbiddenRequestStatus(gr, a.name, message);
}
