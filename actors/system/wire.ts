import type { Envelope } from "../../transport/envelope.ts";

/** What the actor system needs from the transport: send an envelope, hear envelopes. */
export type SendResult = { ok: true } | { ok: false; error: string };

export interface Wire {
  send(envelope: Envelope): SendResult;
  onEnvelope(handler: (envelope: Envelope, fromNodeId: string) => void): void;
}
