/**
 * The API server's exec-streams actor (`<node>/apiserver-exec`): what kubelets send for the
 * exec sessions this API server relays (exec-protocol.ts) arrives here and goes to its session
 * (pod-exec.ts). A statechart of one state, so the inspector shows it and counts what it relays.
 */
import { assign, setup } from "xstate";
import type { ExecExit, ExecOutput } from "../api/exec-protocol.ts";
import type { ActorMessage } from "../system/message.ts";
import type { ExecDelivery } from "./pod-exec.ts";

export type ExecStreamsEvent =
  | ActorMessage<"exec.output", ExecOutput>
  | ActorMessage<"exec.exit", ExecExit>
  | ActorMessage<"exec.stdin.credit", { session: string; bytes: number }>;

export interface ExecStreamsPort {
  deliver(delivery: ExecDelivery): void;
}

export const execStreamsMachine = setup({
  types: {
    context: {} as { port: ExecStreamsPort; relayed: number },
    input: {} as { port: ExecStreamsPort },
    events: {} as ExecStreamsEvent,
  },
  actions: {
    deliver: ({ context, event }) => {
      if (typeof event.body?.session !== "string") return; // not a session's message
      context.port.deliver({ kind: event.type, body: event.body } as ExecDelivery);
    },
    countRelayed: assign(({ context }) => ({ relayed: context.relayed + 1 })),
  },
}).createMachine({
  id: "exec-streams",
  context: ({ input }) => ({ port: input.port, relayed: 0 }),
  initial: "relaying",
  states: {
    relaying: {
      on: {
        "exec.output": { actions: ["deliver", "countRelayed"] },
        "exec.exit": { actions: "deliver" },
        "exec.stdin.credit": { actions: "deliver" },
      },
    },
  },
});
