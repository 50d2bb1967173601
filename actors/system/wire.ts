import type { Envelope } from "../../transport/envelope.ts";
import type { PeerIdentity } from "../../transport/peer-identity.ts";

/** What the actor system needs from the transport: send an envelope, hear envelopes. */
export type SendResult = { ok: true } | { ok: false; error: string };

export interface Wire {
  send(envelope: Envelope): SendResult;
  /**
   * `identity` is the authenticated sender, from the link (peer-identity.ts); a wire without
   * authentication (the simulator, in-memory tests) may leave it out: a plaintext mesh's.
   */
  onEnvelope(
    handler: (envelope: Envelope, fromNodeId: string, identity?: PeerIdentity) => void,
  ): void;
  /** This node's own identity, for what it sends to itself (a plaintext mesh's if absent). */
  localIdentity?(): PeerIdentity;
  /** Whether the link to `nodeId` is up now (a send to a peer that is not would be queued). */
  isConnected?(nodeId: string): boolean;
  /** Called when the link to a peer stops being connected. */
  onPeerDown?(handler: (nodeId: string) => void): void;
}
