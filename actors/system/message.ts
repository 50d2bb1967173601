import type { PeerIdentity } from "../../transport/peer-identity.ts";

/**
 * The event every machine in bosun receives from another actor: the envelope's kind becomes the
 * xstate event type. `reply` and `fail` are attached on delivery of an ask (they never cross the
 * wire); only the first call of either has an effect. `peer` too is attached on delivery: the
 * sending node as its link authenticated it (its certificate on a TLS mesh), or this node's own
 * for a local send; never read from the envelope.
 */
export interface ActorMessage<K extends string = string, B = unknown> {
  type: K;
  body: B;
  from: string;
  peer?: PeerIdentity;
  reply?: (body: unknown) => void;
  fail?: (error: string) => void;
}

/** Envelope kinds reserved for answers to asks; never delivered to machines. */
export const ASK_REPLY_KIND = "ask.reply";
export const ASK_ERROR_KIND = "ask.error";
/** The ask reached the node but no actor of that name: nothing was done with it. */
export const ASK_UNDELIVERED_KIND = "ask.undelivered";

/**
 * An ask that provably never reached its actor: it could not leave this node (no transport, a
 * full outbox, too many asks in flight), or the far node had no such actor. Unlike a timeout or
 * a lost connection — after which the request may yet be (or have been) carried out — it is
 * safe to send again, even when it is not idempotent.
 */
export class AskNotDeliveredError extends Error {
  override name = "AskNotDeliveredError";
}

/**
 * Answers an ask with what `work` returns (or resolves to); a thrown or rejected error fails it
 * with the error's message. For actions of machines that serve asks with async work.
 */
export function answerAsk(
  message: Pick<ActorMessage, "reply" | "fail">,
  work: () => Promise<unknown> | unknown,
): void {
  Promise.resolve()
    .then(work)
    .then(
      (body) => message.reply?.(body),
      (error: unknown) => message.fail?.(error instanceof Error ? error.message : String(error)),
    );
}
