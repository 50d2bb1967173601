import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { SYSTEM_AUTHENTICATED, SYSTEM_MASTERS, type UserInfo } from "../api/user-info.ts";

/**
 * Authentication of HTTPS requests (kube-apiserver's union of request authenticators): a client
 * certificate signed by the cluster CA (CN the user, each O a group), or the admin's bearer
 * token (the static token authenticator, one token: a member of `system:masters`). Health and
 * version endpoints are public, as the `system:public-info-viewer` role makes them in
 * Kubernetes.
 */
const PUBLIC_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version"]);

/** The user the admin token authenticates as (kubeadm's admin.conf user is in system:masters). */
export const ADMIN_USER: UserInfo = {
  username: "kubernetes-admin",
  groups: [SYSTEM_MASTERS, SYSTEM_AUTHENTICATED],
};

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

/** A certificate's subject field as one or more values (Node gives a string or an array). */
function values(field: string | string[] | undefined): string[] {
  if (field === undefined) return [];
  return Array.isArray(field) ? field : [field];
}

/**
 * The user a verified client certificate names (x509 authenticator: CN the user, O the
 * groups), or null: no certificate, or one the cluster CA did not sign (the TLS server asks
 * for one and verifies it against the CA without refusing the connection, so a token still works).
 */
export function certificateUser(req: IncomingMessage): UserInfo | null {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== "function" || socket.authorized !== true) return null;
  const cert = socket.getPeerCertificate();
  const cn = values(cert?.subject?.CN)[0];
  if (cn === undefined || cn === "") return null;
  const groups = values(cert.subject.O).filter((g) => g !== SYSTEM_AUTHENTICATED);
  return { username: cn, groups: [...groups, SYSTEM_AUTHENTICATED] };
}

/** Other bearer-token authenticators (ServiceAccount tokens): the user, or null when not theirs. */
export type TokenAuthenticator = (token: string) => Promise<UserInfo | null>;

/** The request's user; null = no valid credentials (401). */
export async function authenticate(
  req: IncomingMessage,
  adminToken: string,
  tokens: readonly TokenAuthenticator[] = [],
): Promise<UserInfo | null> {
  const token = bearerToken(req);
  if (token !== null) {
    if (tokenMatches(token, adminToken)) return ADMIN_USER;
    for (const authenticator of tokens) {
      const user = await authenticator(token);
      if (user !== null) return user;
    }
    return null;
  }
  return certificateUser(req);
}
