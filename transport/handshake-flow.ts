/**
 * The two sides of the handshake (handshake.ts) as pure steps: given what a side knows and the
 * frame that arrived, what it answers, whether the peer is now authenticated, or which close
 * code ends the socket. The mesh only does the I/O.
 */
import {
  type HandshakeFrame,
  makeAnswer,
  makeProof,
  parseHandshakeFrame,
  verifyAnswer,
  verifyProof,
} from "./handshake.ts";
import type { LinkRole } from "./peer-link.ts";
import { CLOSE } from "./session.ts";

export type Refusal = {
  ok: false;
  code: number;
  reason: string;
  /**
   * The member whose name was used by a side that could not prove the token; counted against
   * that peer apart from malformed frames (it may be the peer misconfigured, or an impostor).
   */
  authFailureOf?: string;
};

function refuse(code: number, reason: string, authFailureOf?: string): Refusal {
  return authFailureOf === undefined
    ? { ok: false, code, reason }
    : { ok: false, code, reason, authFailureOf };
}

export interface DialerSide {
  token: string;
  dialerId: string;
  /** The node we meant to dial, and where. */
  acceptorId: string;
  address: string;
  dialerNonce: Uint8Array;
  /** Set once the challenge arrived. */
  acceptorNonce: Uint8Array | undefined;
}

export type DialerStep =
  | { ok: true; acceptorNonce: Uint8Array; reply: HandshakeFrame; authenticated: false }
  | { ok: true; authenticated: true }
  | Refusal;

/** Dialer: a challenge gets an answer; then a proof authenticates the acceptor. */
export function dialerStep(side: DialerSide, value: unknown): DialerStep {
  if (side.acceptorNonce === undefined) {
    const parsed = parseHandshakeFrame(value, "challenge");
    if (!parsed.ok) return refuse(CLOSE.protocolError, parsed.reason);
    const { nodeId, nonce } = parsed.frame;
    if (nodeId !== side.acceptorId) {
      const reason = `dialed ${side.acceptorId} at ${side.address} but ${nodeId} answered`;
      return refuse(CLOSE.policyViolation, reason);
    }
    const reply = makeAnswer({ ...side, acceptorNonce: nonce });
    return { ok: true, acceptorNonce: nonce, reply, authenticated: false };
  }
  const parsed = parseHandshakeFrame(value, "proof");
  if (!parsed.ok) return refuse(CLOSE.protocolError, parsed.reason);
  const check = verifyProof({ ...side, acceptorNonce: side.acceptorNonce, proof: parsed.frame });
  if (!check.ok) return refuse(CLOSE.policyViolation, check.reason, side.acceptorId);
  return { ok: true, authenticated: true };
}

export interface AcceptorSide {
  token: string;
  acceptorId: string;
  acceptorNonce: Uint8Array;
  /** This node's role on its link to `peerId`, or undefined for a node that is not a member. */
  roleFor(peerId: string): LinkRole | undefined;
}

export type AcceptorStep = { ok: true; peerId: string; reply: HandshakeFrame } | Refusal;

/** Acceptor: an answer from a member that dials us and proves the token gets our proof. */
export function acceptorStep(side: AcceptorSide, value: unknown): AcceptorStep {
  const parsed = parseHandshakeFrame(value, "answer");
  if (!parsed.ok) return refuse(CLOSE.protocolError, parsed.reason);
  const answer = parsed.frame;
  const role = side.roleFor(answer.nodeId);
  if (role === undefined) return refuse(CLOSE.policyViolation, `unknown peer ${answer.nodeId}`);
  if (role !== "acceptor") {
    // One link per pair: the smaller id dials (DESIGN §4), so this dial is the wrong way round.
    return refuse(
      CLOSE.policyViolation,
      `${side.acceptorId} dials ${answer.nodeId}, not the reverse`,
    );
  }
  const check = verifyAnswer({ ...side, answer });
  if (!check.ok) {
    return refuse(CLOSE.policyViolation, `${check.reason} for ${answer.nodeId}`, answer.nodeId);
  }
  const reply = makeProof({ ...side, dialerId: answer.nodeId, dialerNonce: answer.nonce });
  return { ok: true, peerId: answer.nodeId, reply };
}
