import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * Bearer token authentication (Kubernetes' static token authenticator, one token for now: the
 * admin's). Health and version endpoints are public, as the `system:public-info-viewer` role
 * makes them in Kubernetes.
 */
const PUBLIC_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version"]);

export function isPublicPath(path: string): boolean {
  return (
    PUBLIC_PATHS.has(path) ||
    path.startsWith("/healthz/") ||
    path.startsWith("/livez/") ||
    path.startsWith("/readyz/")
  );
}

export function bearerToken(req: Pick<IncomingMessage, "headers">): string | null {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? (match[1] as string) : null;
}

export function tokenMatches(given: string | null, wanted: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(wanted);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who a request is, as audit and the in-flight limits see it (apiserver's `user.Info`). */
export interface RequestUser {
  username: string;
  groups: readonly string[];
}

/** The admin token's holder: kubeadm's admin kubeconfig user, in the masters group. */
export const ADMIN_USER: RequestUser = {
  username: "kubernetes-admin",
  groups: ["system:masters", "system:authenticated"],
};

/** A request to a public path without credentials. */
export const ANONYMOUS_USER: RequestUser = {
  username: "system:anonymous",
  groups: ["system:unauthenticated"],
};
