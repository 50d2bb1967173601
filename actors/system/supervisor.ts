import { assign, setup } from "xstate";

/**
 * The supervisor of one actor (DESIGN §3): when the child throws, wait out an exponential
 * backoff, then start it again from its initial state. Like a kubelet's CrashLoopBackOff it
 * never gives up, but the delay resets once the child has run for `stableMs`.
 *
 * The actions that touch the child (`startChild`) are provided by the actor system, which owns
 * the registry; this machine only decides when.
 */
export interface SupervisorPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A child that runs this long without crashing earns a fresh backoff. */
  stableMs: number;
}

export const DEFAULT_SUPERVISOR_POLICY: SupervisorPolicy = {
  initialBackoffMs: 100, // short: most crashes are transient, a restart should feel immediate
  maxBackoffMs: 10_000, // long enough not to spin on a crash loop, short enough to recover
  stableMs: 30_000,
};

export interface SupervisorContext {
  child: string;
  policy: SupervisorPolicy;
  restarts: number;
  backoffMs: number;
  lastError: string | null;
}

export type SupervisorEvent =
  | { type: "child.crashed"; error: string }
  | { type: "child.stop" }
  | { type: "child.stopped" };

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as { child: string; policy: SupervisorPolicy },
  },
  actions: {
    startChild: () => {
      throw new Error("supervisor: startChild must be provided by the actor system");
    },
    recordCrash: assign({
      lastError: ({ event }) => (event.type === "child.crashed" ? event.error : null),
    }),
    countRestart: assign({
      restarts: ({ context }) => context.restarts + 1,
      backoffMs: ({ context }) => Math.min(context.backoffMs * 2, context.policy.maxBackoffMs),
    }),
    resetBackoff: assign({ backoffMs: ({ context }) => context.policy.initialBackoffMs }),
  },
  delays: {
    currentBackoff: ({ context }) => context.backoffMs,
    stableAfter: ({ context }) => context.policy.stableMs,
  },
}).createMachine({
  id: "supervisor",
  context: ({ input }) => ({
    child: input.child,
    policy: input.policy,
    restarts: 0,
    backoffMs: input.policy.initialBackoffMs,
    lastError: null,
  }),
  initial: "running",
  states: {
    running: {
      after: { stableAfter: { actions: "resetBackoff" } },
      on: {
        "child.crashed": { target: "backoff", actions: "recordCrash" },
        "child.stop": { target: "stopped" },
        "child.stopped": { target: "stopped" },
      },
    },
    backoff: {
      after: { currentBackoff: { target: "running", actions: ["countRestart", "startChild"] } },
      on: { "child.stop": { target: "stopped" } },
    },
    stopped: { type: "final" },
  },
});
