/**
 * One peer link as a statechart (DESIGN §4): `disconnected → connecting → handshaking →
 * connected → backoff`. There is one link per peer pair; the node with the lexicographically
 * smaller id dials, the other accepts:
 *
 * - dialer:   disconnected → connecting → handshaking → connected, and on any failure
 *             backoff → connecting again, with exponential, jittered, capped delays;
 * - acceptor: disconnected → handshaking → connected → disconnected (it waits to be dialed).
 *
 * The machine is pure: it owns the states and the timers (through the actor's injected clock),
 * and names the side effects `openSocket`, `closeSocket`, `flushQueue`; the mesh provides them
 * with `peerLinkMachine.provide({ actions })`. Guards, delays and actions are named so the
 * inspector shows `retryDelay`, `isDialer`, `planRetry` rather than anonymous lambdas.
 */
import { assign, setup } from "xstate";
import { nextRandom, type RandomState } from "../actors/system/random.ts";
import { type BackoffPolicy, backoffDelayMs } from "./backoff.ts";

export type LinkRole = "dialer" | "acceptor";
export type PeerLinkState = "disconnected" | "connecting" | "handshaking" | "connected" | "backoff";

export interface PeerLinkInput {
  peerId: string;
  role: LinkRole;
  backoff: BackoffPolicy;
  handshakeTimeoutMs: number;
  /** Seed of this link's jitter stream (so a run replays exactly); advanced on every retry. */
  seed: RandomState;
}

export interface PeerLinkContext extends PeerLinkInput {
  /** Failed attempts since the link was last connected; drives the backoff exponent. */
  attempts: number;
  /** Why the link last went down, for `linkStates()` and the inspector. */
  lastError?: string;
  /** Delay chosen for the current backoff; kept so the inspector can show "retrying in …". */
  retryDelayMs: number;
}

export type PeerLinkEvent =
  /** The mesh started (or learned of) this peer: a dialer starts dialing. */
  | { type: "START" }
  /** The dialer's socket is open; the handshake begins. */
  | { type: "SOCKET_OPEN" }
  /** An acceptor got an answer from this peer; verification begins. */
  | { type: "INBOUND" }
  | { type: "HANDSHAKE_OK" }
  | { type: "HANDSHAKE_FAILED"; reason: string }
  | { type: "SOCKET_CLOSED"; reason: string };

export const peerLinkMachine = setup({
  types: {
    context: {} as PeerLinkContext,
    events: {} as PeerLinkEvent,
    input: {} as PeerLinkInput,
  },
  guards: {
    isDialer: ({ context }) => context.role === "dialer",
    isAcceptor: ({ context }) => context.role === "acceptor",
  },
  delays: {
    handshakeTimeout: ({ context }) => context.handshakeTimeoutMs,
    retryDelay: ({ context }) => context.retryDelayMs,
  },
  actions: {
    // Side effects: no-ops here, provided by the mesh.
    openSocket: () => {},
    closeSocket: (_, _params: { reason: string }) => {},
    flushQueue: () => {},
    recordError: assign({
      lastError: ({ event }) =>
        event.type === "SOCKET_CLOSED" || event.type === "HANDSHAKE_FAILED"
          ? event.reason
          : undefined,
    }),
    recordTimeout: assign({ lastError: "handshake timeout" }),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    resetAttempts: assign({ attempts: 0 }),
    planRetry: assign(({ context }) => {
      const [random, seed] = nextRandom(context.seed);
      return { seed, retryDelayMs: backoffDelayMs(context.attempts, context.backoff, random) };
    }),
  },
}).createMachine({
  id: "peerLink",
  context: ({ input }) => ({ ...input, attempts: 0, retryDelayMs: 0 }),
  initial: "disconnected",
  states: {
    disconnected: {
      on: {
        START: { guard: "isDialer", target: "connecting" },
        INBOUND: { guard: "isAcceptor", target: "handshaking" },
      },
    },
    connecting: {
      entry: "openSocket",
      on: {
        SOCKET_OPEN: "handshaking",
        SOCKET_CLOSED: { target: "backoff", actions: "recordError" },
        HANDSHAKE_FAILED: { target: "backoff", actions: "recordError" },
      },
      after: {
        handshakeTimeout: {
          target: "backoff",
          actions: [
            "recordTimeout",
            { type: "closeSocket", params: { reason: "handshake timeout" } },
          ],
        },
      },
    },
    handshaking: {
      on: {
        HANDSHAKE_OK: "connected",
        HANDSHAKE_FAILED: [
          { guard: "isDialer", target: "backoff", actions: "recordError" },
          { target: "disconnected", actions: "recordError" },
        ],
        SOCKET_CLOSED: [
          { guard: "isDialer", target: "backoff", actions: "recordError" },
          { target: "disconnected", actions: "recordError" },
        ],
      },
      after: {
        handshakeTimeout: [
          {
            guard: "isDialer",
            target: "backoff",
            actions: [
              "recordTimeout",
              { type: "closeSocket", params: { reason: "handshake timeout" } },
            ],
          },
          {
            target: "disconnected",
            actions: [
              "recordTimeout",
              { type: "closeSocket", params: { reason: "handshake timeout" } },
            ],
          },
        ],
      },
    },
    connected: {
      entry: ["resetAttempts", "flushQueue"],
      on: {
        SOCKET_CLOSED: [
          { guard: "isDialer", target: "backoff", actions: "recordError" },
          { target: "disconnected", actions: "recordError" },
        ],
        // An acceptor whose peer redialed (e.g. after a restart we never saw close).
        INBOUND: { guard: "isAcceptor", target: "handshaking" },
      },
    },
    backoff: {
      entry: ["countAttempt", "planRetry"],
      after: { retryDelay: "connecting" },
    },
  },
});
