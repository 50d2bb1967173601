/**
 * Who may see the browser inspector: whoever holds the cluster's join token (the one the CLI and
 * the admin endpoints take), sent as a bearer token or, from a browser, as a session cookie set
 * by the login form.
 *
 * The cookie does not carry the token itself but an HMAC of a fixed label under it, so every
 * node can check it (they all hold the token), it is worthless against the mesh handshake or the
 * admin endpoints, and it changes when the token does. HttpOnly (no script reads it),
 * SameSite=Strict (no other site's page sends it), Path=/ui.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const UI_SESSION_COOKIE = "bosun_ui";
/** A login form body is a token and a few bytes of form encoding. */
export const MAX_LOGIN_BODY_BYTES = 4 * 1024;
const SESSION_LABEL = "bosun browser inspector session v1";

export function sessionValue(token: string): string {
  return createHmac("sha256", token).update(SESSION_LABEL).digest("base64url");
}

export function sessionCookie(token: string): string {
  return `${UI_SESSION_COOKIE}=${sessionValue(token)}; Path=/ui; HttpOnly; SameSite=Strict`;
}

export function clearedSessionCookie(): string {
  return `${UI_SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0`;
}

function equalSecrets(given: string, wanted: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(wanted);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** Whether the request carries the join token (bearer) or a session cookie made from it. */
export function isAuthorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? "";
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (bearer !== undefined) return equalSecrets(bearer, token);
  const cookie = cookieValue(req, UI_SESSION_COOKIE);
  return cookie !== null && equalSecrets(cookie, sessionValue(token));
}

/** Whether a login form's token is the cluster's. */
export function isClusterToken(given: string, token: string): boolean {
  return given.length > 0 && equalSecrets(given, token);
}
