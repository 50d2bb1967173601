/**
 * Mutual authentication of a peer link with the cluster join token (DESIGN §4). Pure: nonces
 * are passed in, so every step is testable; the token never crosses the wire.
 *
 *   acceptor → dialer  {hs:"challenge", nodeId: acceptorId, nonce: Na}
 *   dialer → acceptor  {hs:"answer", nodeId: dialerId, nonce: Nd,
 *                        mac: HMAC(token, "dialer" | Na | dialerId | acceptorId)}
 *   acceptor → dialer  {hs:"proof", mac: HMAC(token, "acceptor" | Nd | Na | acceptorId | dialerId)}
 *
 * The acceptor's fresh nonce makes an old answer useless (no replay); the role labels stop a
 * MAC from one direction being reflected back as the other; both ids are bound so an answer
 * meant for one node cannot be presented to another. Fields are length-prefixed before MACing
 * so no two different field lists hash alike.
 *
 * Handshake frames are msgpack maps keyed by `hs`, never envelopes: they cannot be mistaken for
 * one (checkEnvelope rejects the unknown field), and an envelope cannot pass for one.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const NONCE_BYTES = 32;
const MAC_BYTES = 32;
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface ChallengeFrame {
  hs: "challenge";
  nodeId: string;
  nonce: Uint8Array;
}
export interface AnswerFrame {
  hs: "answer";
  nodeId: string;
  nonce: Uint8Array;
  mac: Uint8Array;
}
export interface ProofFrame {
  hs: "proof";
  mac: Uint8Array;
}
export type HandshakeFrame = ChallengeFrame | AnswerFrame | ProofFrame;
export type HandshakeCheck = { ok: true } | { ok: false; reason: string };

/** A fresh random nonce. The one impure helper, kept apart so tests can pass fixed nonces. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

export function makeChallenge(acceptorId: string, acceptorNonce: Uint8Array): ChallengeFrame {
  return { hs: "challenge", nodeId: acceptorId, nonce: acceptorNonce };
}

/** The dialer's reply to a challenge from the node it meant to dial. */
export function makeAnswer(args: {
  token: string;
  dialerId: string;
  acceptorId: string;
  acceptorNonce: Uint8Array;
  dialerNonce: Uint8Array;
}): AnswerFrame {
  const mac = hmac(args.token, "dialer", args.acceptorNonce, args.dialerId, args.acceptorId);
  return { hs: "answer", nodeId: args.dialerId, nonce: args.dialerNonce, mac };
}

/** Acceptor side: does this answer prove knowledge of the token for *our* challenge? */
export function verifyAnswer(args: {
  token: string;
  acceptorId: string;
  acceptorNonce: Uint8Array;
  answer: AnswerFrame;
}): HandshakeCheck {
  const { answer } = args;
  const expected = hmac(args.token, "dialer", args.acceptorNonce, answer.nodeId, args.acceptorId);
  return macEqual(expected, answer.mac)
    ? { ok: true }
    : { ok: false, reason: "authentication failed" };
}

export function makeProof(args: {
  token: string;
  acceptorId: string;
  dialerId: string;
  acceptorNonce: Uint8Array;
  dialerNonce: Uint8Array;
}): ProofFrame {
  const { token, acceptorId, dialerId, acceptorNonce, dialerNonce } = args;
  return {
    hs: "proof",
    mac: hmac(token, "acceptor", dialerNonce, acceptorNonce, acceptorId, dialerId),
  };
}

/** Dialer side: did the node we dialed prove knowledge of the token for our nonce? */
export function verifyProof(args: {
  token: string;
  acceptorId: string;
  dialerId: string;
  acceptorNonce: Uint8Array;
  dialerNonce: Uint8Array;
  proof: ProofFrame;
}): HandshakeCheck {
  const { token, acceptorId, dialerId, acceptorNonce, dialerNonce } = args;
  const expected = hmac(token, "acceptor", dialerNonce, acceptorNonce, acceptorId, dialerId);
  return macEqual(expected, args.proof.mac)
    ? { ok: true }
    : { ok: false, reason: "acceptor failed authentication" };
}

/** Checks a decoded msgpack value as the handshake frame `kind`, naming what is wrong. */
export function parseHandshakeFrame<K extends HandshakeFrame["hs"]>(
  value: unknown,
  kind: K,
): { ok: true; frame: Extract<HandshakeFrame, { hs: K }> } | { ok: false; reason: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: `expected handshake ${kind}, got a non-map` };
  }
  const v = value as Record<string, unknown>;
  if (v.hs !== kind) return { ok: false, reason: `expected handshake ${kind}` };
  const allowed =
    kind === "proof" ? ["hs", "mac"] : kind === "answer" ? ANSWER_KEYS : CHALLENGE_KEYS;
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) return { ok: false, reason: `unknown handshake field '${key}'` };
  }
  if (kind !== "proof") {
    if (typeof v.nodeId !== "string" || !NODE_ID.test(v.nodeId)) {
      return { ok: false, reason: "bad handshake nodeId" };
    }
    if (!isBytes(v.nonce, NONCE_BYTES)) return { ok: false, reason: "bad handshake nonce" };
  }
  if (kind !== "challenge" && !isBytes(v.mac, MAC_BYTES)) {
    return { ok: false, reason: "bad handshake mac" };
  }
  // Shape checked field by field above.
  return { ok: true, frame: v as unknown as Extract<HandshakeFrame, { hs: K }> };
}

const CHALLENGE_KEYS = ["hs", "nodeId", "nonce"];
const ANSWER_KEYS = ["hs", "nodeId", "nonce", "mac"];

function isBytes(v: unknown, length: number): v is Uint8Array {
  return v instanceof Uint8Array && v.length === length;
}

/** HMAC-SHA256 keyed by the token over length-prefixed fields (also the join exchange's). */
export function hmac(token: string, role: string, ...fields: (Uint8Array | string)[]): Uint8Array {
  const h = createHmac("sha256", token);
  for (const field of [role, ...fields]) {
    const bytes = typeof field === "string" ? Buffer.from(field, "utf8") : field;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    h.update(length);
    h.update(bytes);
  }
  return new Uint8Array(h.digest());
}

export function macEqual(expected: Uint8Array, actual: Uint8Array): boolean {
  // timingSafeEqual throws on unequal lengths; parseHandshakeFrame fixed the length already.
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
