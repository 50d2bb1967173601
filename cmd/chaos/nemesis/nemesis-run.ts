/**
 * One nemesis's life in a chaos run, as a statechart the chaos process's actor system runs
 * (actor `chaos-nemesis`), so the inspector shows which fault is on and where:
 *
 *   idle ──START──▶ injecting ──STARTED──▶ faulted ──HEAL──▶ healing ──HEALED──▶ recovering
 *     ▲                 │                                       │                   │
 *     └──────────── RECOVERED ◀─────────────────────────────────┼───────────────────┘
 *                       └──FAILED──▶ failed ◀──FAILED───────────┘
 *
 * `recovering` is the wait after healing until every member answers, agrees on a leader, has
 * caught up, and writes flow again. The runner does the I/O and reports each step as an event;
 * the machine keeps what the states need (the window's nemesis and targets) and the count.
 */
import { assign, setup } from "xstate";

export type NemesisRunEvent =
  | { type: "START"; nemesis: string }
  | { type: "STARTED"; targets: string[]; description: string }
  | { type: "HEAL" }
  | { type: "HEALED" }
  | { type: "RECOVERED" }
  | { type: "FAILED"; error: string };

export interface NemesisRunContext {
  window: number;
  nemesis: string | null;
  targets: string[];
  description: string | null;
  error: string | null;
}

export const nemesisRunMachine = setup({
  types: {
    events: {} as NemesisRunEvent,
    context: {} as NemesisRunContext,
  },
  actions: {
    openWindow: assign(({ context, event }) =>
      event.type === "START"
        ? { window: context.window + 1, nemesis: event.nemesis, targets: [], description: null }
        : {},
    ),
    recordTargets: assign(({ event }) =>
      event.type === "STARTED" ? { targets: event.targets, description: event.description } : {},
    ),
    closeWindow: assign({ nemesis: null, targets: [], description: null }),
    recordError: assign(({ event }) => (event.type === "FAILED" ? { error: event.error } : {})),
  },
}).createMachine({
  id: "chaos-nemesis",
  context: { window: 0, nemesis: null, targets: [], description: null, error: null },
  initial: "idle",
  states: {
    idle: { on: { START: { target: "injecting", actions: "openWindow" } } },
    injecting: {
      on: {
        STARTED: { target: "faulted", actions: "recordTargets" },
        FAILED: { target: "failed", actions: "recordError" },
      },
    },
    faulted: { on: { HEAL: { target: "healing" } } },
    healing: {
      on: {
        HEALED: { target: "recovering" },
        FAILED: { target: "failed", actions: "recordError" },
      },
    },
    recovering: {
      on: {
        RECOVERED: { target: "idle", actions: "closeWindow" },
        FAILED: { target: "failed", actions: "recordError" },
      },
    },
    failed: { type: "final" },
  },
});
