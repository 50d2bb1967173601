/**
 * One WebSocket of a peer link, from upgrade (or dial) to close. A link outlives its sockets:
 * a dialer opens a new one after every backoff, an acceptor adopts whichever authenticates.
 */
import type { PeerCertificate } from "node:tls";
import type WebSocket from "ws";
import type { Clock, TimerId } from "../actors/system/clock.ts";

export type SessionPhase =
  /** Acceptor: challenge sent, waiting for the dialer's answer. */
  | "awaitAnswer"
  /** Dialer: socket opening or open, waiting for the acceptor's challenge. */
  | "awaitChallenge"
  /** Dialer: answer sent, waiting for the acceptor's proof. */
  | "awaitProof"
  /** Authenticated: envelopes flow. */
  | "open";

/** WebSocket close codes we send (RFC 6455 §7.4.1). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  policyViolation: 1008,
  tooBig: 1009,
} as const;

export interface Session {
  readonly ws: WebSocket;
  /** `host:port` of the other end, for logs before the peer has a name. */
  readonly remote: string;
  phase: SessionPhase;
  /** Known for a dialer from the start, for an acceptor once the answer names it. */
  peerId: string | undefined;
  acceptorNonce: Uint8Array | undefined;
  dialerNonce: Uint8Array | undefined;
  /** Set once we decided to close it: later frames are ignored. */
  closing: boolean;
  /** The first error ws reported, kept to explain the close. */
  error: string | undefined;
  /** A ping went out and no pong came back yet. */
  awaitingPong: boolean;
  timer: TimerId | undefined;
  /** On a TLS mesh: the CA-verified certificate the other end presented. */
  certificate: PeerCertificate | undefined;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
}

export function newSession(
  ws: WebSocket,
  remote: string,
  phase: SessionPhase,
  peerId?: string,
): Session {
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  return {
    ws,
    remote,
    phase,
    peerId,
    acceptorNonce: undefined,
    dialerNonce: undefined,
    closing: false,
    error: undefined,
    awaitingPong: false,
    timer: undefined,
    certificate: undefined,
    closed,
  };
}

/**
 * Starts a close handshake with `code` and `reason`, and tears the socket down if the other end
 * has not answered within `graceMs` (a misbehaving peer must not hold it open).
 */
export function closeSocket(
  session: Session,
  code: number,
  reason: string,
  clock: Clock,
  graceMs: number,
): void {
  session.closing = true;
  cancelTimer(session, clock);
  const { ws } = session;
  if (ws.readyState === ws.CLOSED) return;
  try {
    ws.close(code, closeReason(reason));
  } catch {
    ws.terminate();
    return;
  }
  const grace = clock.setTimeout(() => ws.terminate(), graceMs);
  void session.closed.then(() => clock.clearTimeout(grace));
}

export function cancelTimer(session: Session, clock: Clock): void {
  if (session.timer !== undefined) clock.clearTimeout(session.timer);
  session.timer = undefined;
}

/** A close reason must fit in 123 bytes of UTF-8 (RFC 6455 §5.5: control payload ≤ 125). */
export function closeReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out, "utf8") > 123) out = out.slice(0, -1);
  return out;
}

/** ws hands over a Buffer, an ArrayBuffer or fragments depending on options; normalize. */
export function frameBytes(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
