/**
 * What an authenticated peer may send: binary frames of well-formed envelopes (one or more,
 * batched), each from one of its own actors to one of ours. Anything else names the WebSocket close code (RFC 6455
 * §7.4.1) that ends the link. Pure, so each rule is tested without sockets.
 */
import { type DecodedItem, decodeBatch } from "./codec.ts";
import { nodeOf } from "./envelope.ts";
import { CLOSE } from "./session.ts";

export type Admission =
  | { ok: true; items: DecodedItem[] }
  | { ok: false; code: number; reason: string };

export function admitFrame(
  bytes: Uint8Array,
  link: { peerId: string; nodeId: string; maxFrameBytes: number },
): Admission {
  const decoded = decodeBatch(bytes, link.maxFrameBytes);
  if (!decoded.ok) {
    const tooBig = bytes.length > link.maxFrameBytes;
    return { ok: false, code: tooBig ? CLOSE.tooBig : CLOSE.protocolError, reason: decoded.reason };
  }
  for (const { envelope } of decoded.items) {
    // The handshake proved who is at the other end; an envelope may not claim to be someone else.
    if (nodeOf(envelope.from) !== link.peerId) {
      return { ok: false, code: CLOSE.policyViolation, reason: `spoofed sender ${envelope.from}` };
    }
    // The mesh does not forward: an envelope for a third node is a bug at the sender.
    if (nodeOf(envelope.to) !== link.nodeId) {
      return {
        ok: false,
        code: CLOSE.protocolError,
        reason: `misrouted envelope to ${envelope.to}`,
      };
    }
  }
  return { ok: true, items: decoded.items };
}
