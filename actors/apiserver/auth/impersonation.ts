/**
 * Impersonation (k8s.io/apiserver's WithImpersonation filter): `Impersonate-User` and
 * `Impersonate-Group` headers (what `kubectl --as/--as-group` sends) make the request the named
 * user's, when the requester may `impersonate` that user (`users`, or `serviceaccounts` in its
 * namespace for `system:serviceaccount:<ns>:<name>`) and each group (`groups`).
 */
import type { IncomingHttpHeaders } from "node:http";
import {
  SYSTEM_AUTHENTICATED,
  SYSTEM_SERVICE_ACCOUNTS,
  type UserInfo,
} from "../../api/user-info.ts";
import type { Attributes } from "./attributes.ts";
import type { Authorization } from "./authorization.ts";

function headerValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(",").map((x) => x.trim()))
    .filter((x) => x !== "");
}

function impersonating(user: UserInfo, resource: string, name: string, namespace = ""): Attributes {
  return {
    kind: "resource",
    user,
    verb: "impersonate",
    apiGroup: "",
    resource,
    subresource: "",
    namespace,
    name,
  };
}

/** The user to act as: `requester` without the headers; throws a 403 when it may not impersonate. */
export async function impersonatedUser(
  authorization: Authorization,
  requester: UserInfo,
  headers: IncomingHttpHeaders,
): Promise<UserInfo> {
  const asUser = headerValues(headers["impersonate-user"])[0];
  const asGroups = headerValues(headers["impersonate-group"]);
  if (asUser === undefined) return requester;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(asUser);
  await authorization.require(
    sa
      ? impersonating(requester, "serviceaccounts", sa[2] as string, sa[1] as string)
      : impersonating(requester, "users", asUser),
  );
  for (const group of asGroups)
    await authorization.require(impersonating(requester, "groups", group));
  const groups = [...asGroups];
  if (sa) groups.push(SYSTEM_SERVICE_ACCOUNTS, `${SYSTEM_SERVICE_ACCOUNTS}:${sa[1]}`);
  if (!groups.includes(SYSTEM_AUTHENTICATED)) groups.push(SYSTEM_AUTHENTICATED);
  return { username: asUser, groups };
}
