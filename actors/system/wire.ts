import type { Envelope } from "../../transport/envelope.ts";

/** What the actor system needs from the transport: send an envelope, hear envelopes. */
export type SendResult = { ok: true } | { ok: false; error: string };

export interface Wire {
  send(envelope: Envelope): SendResult;
  onEnvelope(handler: (envelope: Envelope, fromNodeId: string) => void): void;
  /** Whether the link to `nodeId` is up now (a send to a peer that is not would be queued). */
  isConnected?(nodeId: string): boolean;
  /** Called when the link to a peer stops being connected. */
  onPeerDown?(handler: (nodeId: string) => void): void;
}
