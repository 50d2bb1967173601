/**
 * The event every machine in bosun receives from another actor: the envelope's kind becomes the
 * xstate event type. `reply` and `fail` are attached on delivery of an ask (they never cross the
 * wire); only the first call of either has an effect.
 */
export interface ActorMessage<K extends string = string, B = unknown> {
  type: K;
  body: B;
  from: string;
  reply?: (body: unknown) => void;
  fail?: (error: string) => void;
}

/** Envelope kinds reserved for answers to asks; never delivered to machines. */
export const ASK_REPLY_KIND = "ask.reply";
export const ASK_ERROR_KIND = "ask.error";

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
