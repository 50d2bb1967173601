/**
 * `authorization.k8s.io/v1` access reviews (pkg/registry/authorization): a create that stores
 * nothing and answers the review with its status filled in. SelfSubjectAccessReview asks about
 * the requester (what `kubectl auth can-i` sends); SubjectAccessReview about any user the spec
 * names (creating one needs `create subjectaccessreviews`, like any resource);
 * LocalSubjectAccessReview the same within its namespace; SelfSubjectRulesReview lists the
 * requester's rules in a namespace.
 */
import { asArray, asObject, asString, isJsonObject, type JsonObject } from "../../api/json.ts";
import { badRequestStatus } from "../../api/status.ts";
import type { UserInfo } from "../../api/user-info.ts";
import { ApiError } from "../../client/errors.ts";
import type { HandlerResult, RequestInput } from "../rest-request.ts";
import type { Attributes } from "./attributes.ts";
import type { Authorization } from "./authorization.ts";

export const AUTHORIZATION_GROUP = "authorization.k8s.io";

function attributesOf(spec: JsonObject, user: UserInfo): Attributes {
  if (isJsonObject(spec.resourceAttributes)) {
    const a = spec.resourceAttributes;
    return {
      kind: "resource",
      user,
      verb: asString(a.verb),
      apiGroup: asString(a.group),
      resource: asString(a.resource),
      subresource: asString(a.subresource),
      namespace: asString(a.namespace),
      name: asString(a.name),
    };
  }
  if (isJsonObject(spec.nonResourceAttributes)) {
    const a = spec.nonResourceAttributes;
    return { kind: "nonResource", user, verb: asString(a.verb), path: asString(a.path) };
  }
  throw new ApiError(
    badRequestStatus(
      "spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
    ),
  );
}

function userOfSpec(spec: JsonObject): UserInfo {
  const username = asString(spec.user);
  const groups = asArray(spec.groups).map((g) => String(g));
  if (username === "" && groups.length === 0)
    throw new ApiError(
      badRequestStatus("spec.user: Invalid value: at least one of user or group must be specified"),
    );
  return { username, groups };
}

/**
 * SelfSubjectRulesReview (`kubectl auth can-i --list`): the rules RBAC gives the requester in
 * a namespace, split into resource and non-resource rules. What `system:masters` or the Node
 * authorizer allow is not rules, so the answer says it is incomplete for them.
 */
async function rulesReview(
  authorization: Authorization,
  requester: UserInfo,
  body: JsonObject,
): Promise<HandlerResult> {
  const spec = asObject(body.spec);
  const namespace = asString(spec.namespace);
  const rules = (await authorization.policy()).rulesFor(requester, namespace);
  const resourceRules = rules
    .filter((r) => (r.nonResourceURLs ?? []).length === 0)
    .map((r) => ({
      verbs: r.verbs,
      apiGroups: r.apiGroups ?? [],
      resources: r.resources ?? [],
      ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}),
    }));
  const nonResourceRules = rules
    .filter((r) => (r.nonResourceURLs ?? []).length > 0)
    .map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs ?? [] }));
  const incomplete =
    requester.groups.includes("system:masters") || requester.groups.includes("system:nodes");
  return {
    code: 201,
    body: {
      kind: "SelfSubjectRulesReview",
      apiVersion: `${AUTHORIZATION_GROUP}/v1`,
      metadata: { creationTimestamp: null },
      spec,
      status: { resourceRules, nonResourceRules, incomplete } as unknown as JsonObject,
    },
  };
}

export async function serveAccessReview(
  authorization: Authorization,
  requester: UserInfo,
  input: RequestInput,
): Promise<HandlerResult> {
  const body = await input.body();
  if (!isJsonObject(body))
    throw new ApiError(badRequestStatus("the body of the request was in an unknown format"));
  const kind = input.request.resource.kind;
  const spec = asObject(body.spec);
  if (kind === "SelfSubjectRulesReview") return rulesReview(authorization, requester, body);
  const user = kind === "SelfSubjectAccessReview" ? requester : userOfSpec(spec);
  const attributes = attributesOf(spec, user);
  if (kind === "LocalSubjectAccessReview") {
    const ns = input.request.namespace ?? "";
    if (attributes.kind !== "resource" || attributes.namespace !== ns)
      throw new ApiError(
        badRequestStatus(
          `spec.resourceAttributes.namespace: Invalid value: must match metadata.namespace "${ns}"`,
        ),
      );
  }
  const answer = await authorization.authorize(attributes);
  const status: JsonObject = { allowed: answer.decision === "allow" };
  if (answer.decision === "deny") status.denied = true;
  if (answer.reason !== "") status.reason = answer.reason;
  return {
    code: 201,
    body: {
      kind,
      apiVersion: `${AUTHORIZATION_GROUP}/v1`,
      metadata: { ...asObject(body.metadata), creationTimestamp: null },
      spec,
      status,
    },
  };
}
