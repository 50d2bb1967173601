/**
 * The join-certificate exchange (kubelet TLS bootstrap, shrunk): a node that holds only the
 * cluster join token sends its public key, and a server holding the cluster CA answers with a
 * certificate for it. Pure: nonces are passed in.
 *
 *   node → server  {nodeId, publicKeyPem, nonce: N,
 *                   mac: HMAC(token, "join-request" | N | nodeId | publicKeyPem)}
 *   server → node  {certPem, caPem, mac: HMAC(token, "join-reply" | N | nodeId | certPem | caPem)}
 *
 * The token never crosses the wire (this runs over plain HTTP: the node has no CA to check a
 * server with yet). The reply's MAC tells the node that a token holder vouches for the CA it is
 * about to trust, so a man in the middle cannot plant his own. A replayed request earns a
 * certificate for a key the replayer does not hold: useless to him.
 */
import { hmac, macEqual } from "./handshake.ts";

export const JOIN_CERTIFICATE_PATH = "/mesh/join-certificate";
export const JOIN_NONCE_BYTES = 32;
/** A PEM RSA public key is ~450 bytes; a request is far below this. */
export const MAX_JOIN_REQUEST_BYTES = 16 * 1024;
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const HEX = /^[0-9a-f]*$/;

export interface JoinRequest {
  nodeId: string;
  publicKeyPem: string;
  /** hex */
  nonce: string;
  /** hex */
  mac: string;
}

export interface JoinReply {
  certPem: string;
  caPem: string;
  /** hex */
  mac: string;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function requestMac(token: string, r: Omit<JoinRequest, "mac">): Uint8Array {
  return hmac(token, "join-request", Buffer.from(r.nonce, "hex"), r.nodeId, r.publicKeyPem);
}

function replyMac(token: string, request: JoinRequest, certPem: string, caPem: string): Uint8Array {
  const nonce = Buffer.from(request.nonce, "hex");
  return hmac(token, "join-reply", nonce, request.nodeId, certPem, caPem);
}

export function makeJoinRequest(
  token: string,
  nodeId: string,
  publicKeyPem: string,
  nonce: Uint8Array,
): JoinRequest {
  const unsigned = { nodeId, publicKeyPem, nonce: hex(nonce) };
  return { ...unsigned, mac: hex(requestMac(token, unsigned)) };
}

/** Checks a request's shape and MAC, naming what is wrong. */
export function verifyJoinRequest(
  token: string,
  value: unknown,
): { ok: true; request: JoinRequest } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "not an object" };
  const v = value as Record<string, unknown>;
  if (typeof v.nodeId !== "string" || !NODE_ID.test(v.nodeId))
    return { ok: false, reason: "bad nodeId" };
  if (typeof v.publicKeyPem !== "string" || !v.publicKeyPem.includes("PUBLIC KEY"))
    return { ok: false, reason: "bad publicKeyPem" };
  if (typeof v.nonce !== "string" || v.nonce.length !== JOIN_NONCE_BYTES * 2 || !HEX.test(v.nonce))
    return { ok: false, reason: "bad nonce" };
  if (typeof v.mac !== "string" || v.mac.length !== 64 || !HEX.test(v.mac))
    return { ok: false, reason: "bad mac" };
  const request: JoinRequest = {
    nodeId: v.nodeId,
    publicKeyPem: v.publicKeyPem,
    nonce: v.nonce,
    mac: v.mac,
  };
  if (!macEqual(requestMac(token, request), Buffer.from(request.mac, "hex")))
    return { ok: false, reason: "join token proof failed" };
  return { ok: true, request };
}

export function makeJoinReply(
  token: string,
  request: JoinRequest,
  certPem: string,
  caPem: string,
): JoinReply {
  return { certPem, caPem, mac: hex(replyMac(token, request, certPem, caPem)) };
}

/** The node's check of the server's reply to `request`. */
export function verifyJoinReply(
  token: string,
  request: JoinRequest,
  value: unknown,
): { ok: true; reply: JoinReply } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null) return { ok: false, reason: "not an object" };
  const v = value as Record<string, unknown>;
  if (typeof v.certPem !== "string" || typeof v.caPem !== "string" || typeof v.mac !== "string")
    return { ok: false, reason: "reply lacks certPem, caPem or mac" };
  const expected = replyMac(token, request, v.certPem, v.caPem);
  const mac = Buffer.from(v.mac, "hex");
  if (!macEqual(expected, mac))
    return { ok: false, reason: "the server failed to prove the join token" };
  return { ok: true, reply: { certPem: v.certPem, caPem: v.caPem, mac: v.mac } };
}
