import { assign, setup } from "xstate";
import type { ActorMessage } from "./message.ts";

/**
 * Every node runs an `echo` actor: it answers `echo.ask` with the body it got and counts
 * `echo.tell`s, so that benchmarks and diagnostics measure the real tell/ask path through the
 * transport and the actor system, not a side channel.
 */
export type EchoEvent =
  | ActorMessage<"echo.ask", unknown>
  | ActorMessage<"echo.tell", unknown>
  | ActorMessage<"echo.count", null>
  | ActorMessage<"echo.reset", null>;

export const echoMachine = setup({
  types: { context: {} as { told: number }, events: {} as EchoEvent },
  actions: {
    echoBack: ({ event }) => event.reply?.(event.body),
    countTell: assign({ told: ({ context }) => context.told + 1 }),
    reportCount: ({ context, event }) => event.reply?.({ told: context.told }),
    resetCount: assign({ told: 0 }),
    confirm: ({ event }) => event.reply?.({ told: 0 }),
  },
}).createMachine({
  id: "echo",
  context: { told: 0 },
  initial: "echoing",
  states: {
    echoing: {
      on: {
        "echo.ask": { actions: "echoBack" },
        "echo.tell": { actions: "countTell" },
        "echo.count": { actions: "reportCount" },
        "echo.reset": { actions: ["resetCount", "confirm"] },
      },
    },
  },
});
