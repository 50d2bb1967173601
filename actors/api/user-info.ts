/**
 * Who makes a request (k8s.io/apiserver's `user.Info`): a user name and the groups it belongs
 * to, as an authenticator found them; and the names Kubernetes gives its own components and
 * well-known groups, which every component and the API server's authorizers agree on.
 */

export interface UserInfo {
  username: string;
  groups: readonly string[];
  /** Scoping facts (a ServiceAccount token's pod); keys as Kubernetes spells them. */
  extra?: Readonly<Record<string, readonly string[]>>;
}

/** Members are allowed everything, before any authorizer is asked (kube-apiserver's privileged group). */
export const SYSTEM_MASTERS = "system:masters";
export const SYSTEM_AUTHENTICATED = "system:authenticated";
export const SYSTEM_UNAUTHENTICATED = "system:unauthenticated";
export const SYSTEM_NODES = "system:nodes";
export const SYSTEM_SERVICE_ACCOUNTS = "system:serviceaccounts";
export const ANONYMOUS_USER = "system:anonymous";
export const KUBE_SCHEDULER_USER = "system:kube-scheduler";
export const KUBE_CONTROLLER_MANAGER_USER = "system:kube-controller-manager";
export const CLOUD_CONTROLLER_MANAGER_USER = "system:cloud-controller-manager";
export const KUBE_PROXY_USER = "system:kube-proxy";
/** bosun's own components without a Kubernetes name: cluster DNS, the `kubernetes` endpoints. */
export const KUBE_DNS_USER = "system:bosun:kube-dns";
export const API_SERVER_USER = "system:apiserver";
export const LOCAL_PATH_PROVISIONER_USER = "system:bosun:local-path-provisioner";

const NODE_USER_PREFIX = "system:node:";
const SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";

/** A kubelet's identity: `system:node:<name>` in `system:nodes`. */
export function nodeUser(nodeName: string): UserInfo {
  return {
    username: `${NODE_USER_PREFIX}${nodeName}`,
    groups: [SYSTEM_NODES, SYSTEM_AUTHENTICATED],
  };
}

/** A system component's identity (no groups but `system:authenticated`). */
export function componentUser(username: string): UserInfo {
  return { username, groups: [SYSTEM_AUTHENTICATED] };
}

/** The node a `system:node:<name>` user in `system:nodes` speaks for, else null. */
export function nodeNameOf(user: UserInfo): string | null {
  if (!user.groups.includes(SYSTEM_NODES) || !user.username.startsWith(NODE_USER_PREFIX))
    return null;
  const name = user.username.slice(NODE_USER_PREFIX.length);
  return name === "" ? null : name;
}

/** `system:serviceaccount:<ns>:<name>`. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_PREFIX}${namespace}:${name}`;
}

/** A ServiceAccount's user and groups, as the token authenticator makes them. */
export function serviceAccountUser(
  namespace: string,
  name: string,
  extra?: Record<string, readonly string[]>,
): UserInfo {
  return {
    username: serviceAccountUsername(namespace, name),
    groups: [
      SYSTEM_SERVICE_ACCOUNTS,
      `${SYSTEM_SERVICE_ACCOUNTS}:${namespace}`,
      SYSTEM_AUTHENTICATED,
    ],
    ...(extra ? { extra } : {}),
  };
}

export function isUserInfo(value: unknown): value is UserInfo {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { username?: unknown; groups?: unknown };
  return (
    typeof v.username === "string" &&
    Array.isArray(v.groups) &&
    v.groups.every((g) => typeof g === "string")
  );
}
