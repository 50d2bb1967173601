/**
 * A hand-driven WebSocket client that speaks (or breaks) the mesh protocol, to play the bad
 * peer in integration tests.
 */
import WebSocket from "ws";
import { decodeValue, encodeValue } from "../../../transport/codec.ts";
import {
  type ChallengeFrame,
  makeAnswer,
  newNonce,
  parseHandshakeFrame,
  verifyProof,
} from "../../../transport/handshake.ts";

export interface Closed {
  code: number;
  reason: string;
}

export interface RawPeer {
  ws: WebSocket;
  /** Resolves when the server closes the socket. */
  closed: Promise<Closed>;
  /** Frames received after the handshake. */
  received: unknown[];
}

function connect(
  address: string,
  options: WebSocket.ClientOptions = {},
): Promise<{ ws: WebSocket; closed: Promise<Closed>; next: () => Promise<unknown> }> {
  // a client certificate in the options: the mesh is mutual TLS (wss), else plaintext
  const scheme = options.cert !== undefined ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${address}/mesh`, options);
  const inbox: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  ws.on("message", (data: Buffer) => {
    const decoded = decodeValue(data, 1 << 24);
    const value = decoded.ok ? decoded.value : decoded;
    const waiter = waiters.shift();
    if (waiter) waiter(value);
    else inbox.push(value);
  });
  ws.on("error", () => {}); // the close event carries what the tests assert
  const closed = new Promise<Closed>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString("utf8") })),
  );
  const next = () =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift())
      : new Promise<unknown>((r) => waiters.push(r));
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, closed, next }));
    ws.once("error", reject);
  });
}

/** Opens a socket to `address` and does nothing else: the server's challenge goes unanswered. */
export async function rawSocket(
  address: string,
  options: WebSocket.ClientOptions = {},
): Promise<RawPeer> {
  const { ws, closed } = await connect(address, options);
  return { ws, closed, received: [] };
}

/** Dials `address` as `dialerId` and completes the handshake with `token`. */
export async function rawHandshake(
  address: string,
  dialerId: string,
  acceptorId: string,
  token: string,
  options: WebSocket.ClientOptions = {},
): Promise<RawPeer & { authenticated: Promise<boolean> }> {
  const { ws, closed, next } = await connect(address, options);
  const challenge = parseHandshakeFrame(await next(), "challenge");
  if (!challenge.ok) throw new Error(challenge.reason);
  const frame: ChallengeFrame = challenge.frame;
  const dialerNonce = newNonce();
  const answer = makeAnswer({
    token,
    dialerId,
    acceptorId,
    acceptorNonce: frame.nonce,
    dialerNonce,
  });
  const encoded = encodeValue(answer, 1 << 20);
  if (!encoded.ok) throw new Error(encoded.reason);
  ws.send(encoded.bytes);
  const authenticated = Promise.race([
    next().then((value) => {
      const proof = parseHandshakeFrame(value, "proof");
      return (
        proof.ok &&
        verifyProof({
          token,
          acceptorId,
          dialerId,
          acceptorNonce: frame.nonce,
          dialerNonce,
          proof: proof.frame,
        }).ok
      );
    }),
    closed.then(() => false),
  ]);
  const received: unknown[] = [];
  return { ws, closed, received, authenticated };
}
