import { assign, setup } from "xstate";
import { CHAOS_CRASH_EVENT, crashForChaos } from "./chaos-crash.ts";

/**
 * Watches this node's view of the cluster: every `pingIntervalMs` it asks each peer's node actor
 * for a pong through the actor system (so the whole tell/ask path is exercised across real
 * processes), and its `mesh` region says whether the node is alone, partly connected or fully
 * meshed. `bosun up` waits for every node's monitor to say `meshed`.
 */
export interface PeerPinger {
  /** Resolves with the round trip in ms, rejects when the peer does not answer in time. */
  ping(peer: string): Promise<number>;
}

export interface PeerView {
  up: boolean;
  rttMs: number | null;
  failures: number;
}

export interface PeerMonitorContext {
  pinger: PeerPinger;
  pingIntervalMs: number;
  peers: Record<string, PeerView>;
}

export type PeerMonitorEvent =
  | { type: "peer.up"; peer: string; rttMs: number }
  | { type: "peer.down"; peer: string }
  | { type: "chaos.crash" };

export const DEFAULT_PING_INTERVAL_MS = 1_000;

function countUp(context: PeerMonitorContext): number {
  return Object.values(context.peers).filter((p) => p.up).length;
}

export const peerMonitorMachine = setup({
  types: {
    context: {} as PeerMonitorContext,
    events: {} as PeerMonitorEvent,
    input: {} as { pinger: PeerPinger; peers: string[]; pingIntervalMs?: number },
  },
  actions: {
    pingPeers: ({ context, self }) => {
      for (const peer of Object.keys(context.peers)) {
        context.pinger.ping(peer).then(
          (rttMs) => self.send({ type: "peer.up", peer, rttMs }),
          () => self.send({ type: "peer.down", peer }),
        );
      }
    },
    markUp: assign({
      peers: ({ context, event }) => {
        if (event.type !== "peer.up" || !(event.peer in context.peers)) return context.peers;
        return { ...context.peers, [event.peer]: { up: true, rttMs: event.rttMs, failures: 0 } };
      },
    }),
    markDown: assign({
      peers: ({ context, event }) => {
        const previous = event.type === "peer.down" ? context.peers[event.peer] : undefined;
        if (event.type !== "peer.down" || previous === undefined) return context.peers;
        return {
          ...context.peers,
          [event.peer]: { up: false, rttMs: null, failures: previous.failures + 1 },
        };
      },
    }),
    crashForChaos,
  },
  guards: {
    allPeersUp: ({ context }) => countUp(context) === Object.keys(context.peers).length,
    noPeerUp: ({ context }) => Object.keys(context.peers).length > 0 && countUp(context) === 0,
  },
  delays: {
    pingInterval: ({ context }) => context.pingIntervalMs,
  },
}).createMachine({
  id: "peer-monitor",
  type: "parallel",
  context: ({ input }) => ({
    pinger: input.pinger,
    pingIntervalMs: input.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    peers: Object.fromEntries(input.peers.map((p) => [p, { up: false, rttMs: null, failures: 0 }])),
  }),
  on: {
    "peer.up": { actions: "markUp" },
    "peer.down": { actions: "markDown" },
    [CHAOS_CRASH_EVENT]: { actions: "crashForChaos" },
  },
  states: {
    pinger: {
      initial: "pinging",
      states: {
        pinging: {
          entry: "pingPeers",
          after: { pingInterval: { target: "pinging", reenter: true } },
        },
      },
    },
    mesh: {
      initial: "alone",
      states: {
        alone: {
          always: [{ guard: "allPeersUp", target: "meshed" }],
          on: { "peer.up": { target: "partial", actions: "markUp" } },
        },
        partial: {
          always: [
            { guard: "allPeersUp", target: "meshed" },
            { guard: "noPeerUp", target: "alone" },
          ],
        },
        meshed: {
          always: [{ guard: "noPeerUp", target: "alone" }],
          on: { "peer.down": { target: "partial", actions: "markDown" } },
        },
      },
    },
  },
});
