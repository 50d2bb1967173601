/**
 * What an authorizer decides on (k8s.io/apiserver's `authorizer.Attributes`): who, and either a
 * resource request (verb, API group, resource, subresource, namespace, name) or a non-resource
 * one (verb, path). Both the HTTPS API and the internal API over the mesh build these, so one
 * authorizer judges both.
 */
import type { UserInfo } from "../../api/user-info.ts";

export interface ResourceAttributes {
  kind: "resource";
  user: UserInfo;
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  /** "" for cluster-scoped resources and all-namespaces requests. */
  namespace: string;
  /** "" for collections (list, watch, create without a name). */
  name: string;
}

export interface NonResourceAttributes {
  kind: "nonResource";
  user: UserInfo;
  /** The HTTP method, lower case (`get`, `post`). */
  verb: string;
  path: string;
}

export type Attributes = ResourceAttributes | NonResourceAttributes;

/** `allow` ends the question; `deny` ends it too; `noOpinion` asks the next authorizer. */
export type Decision = "allow" | "deny" | "noOpinion";

export interface AuthorizerAnswer {
  decision: Decision;
  reason: string;
}

export interface Authorizer {
  authorize(attributes: Attributes): AuthorizerAnswer | Promise<AuthorizerAnswer>;
}

export const NO_OPINION: AuthorizerAnswer = { decision: "noOpinion", reason: "" };
