/**
 * The browser inspector's fan-in: an actor on the serving node that follows the other nodes'
 * inspection rings over the mesh (the `inspect.follow` protocol of actors/system/node-actor.ts,
 * the same one `/inspect/*` answers through) and hands the records to the page's streams.
 *
 *   idle ──feed.refresh [someone watches]──▶ following ──feed.refresh [nobody]──▶ idle
 *                                              │  ▲        (unfollow every node)
 *                                              └──┘ following.waiting: after refollowMs, or
 *                                                   feed.refresh: follow every node again
 *
 * Following again every `refollowMs` is how a node that restarted (and forgot its followers)
 * or joined is picked up; a node answers a repeated follow by updating the filter. Nobody
 * watching costs nothing: no follower anywhere.
 */
import type { Logger } from "pino";
import { setup } from "xstate";
import type { ActorSystem } from "../system/actor-system.ts";
import type { InspectionRecord } from "../system/inspection-ring.ts";
import type { ActorMessage } from "../system/message.ts";
import type { FollowFilter } from "../system/node-actor.ts";

export const DEFAULT_REFOLLOW_MS = 2_000;
/** A follow ask that takes longer than this is given up (the next round asks again). */
export const FOLLOW_ASK_TIMEOUT_MS = 1_500;

/** What the feed needs from whoever serves the streams. */
export interface LiveFeedPort {
  /** The filter to follow `nodeId` with, or null when nobody watches anything there. */
  filterFor(nodeId: string): FollowFilter | null;
  deliver(records: InspectionRecord[]): void;
}

export interface LiveFeedInput {
  system: ActorSystem;
  /** Its own name in `system` (followers are addressed by it). */
  name: string;
  /** Every node to follow: this one and its peers. */
  nodes: () => string[];
  port: LiveFeedPort;
  logger: Logger;
  refollowMs?: number;
}

interface LiveFeedContext extends LiveFeedInput {
  /** Nodes asked to stream to us, so that they can be told to stop. */
  following: Set<string>;
}

export type LiveFeedEvent =
  | ActorMessage<"inspect.records", InspectionRecord[]>
  | { type: "feed.refresh" };

function followAll(context: LiveFeedContext): void {
  const { system, name, logger } = context;
  const self = system.address(name);
  for (const nodeId of context.nodes()) {
    const filter = context.port.filterFor(nodeId);
    const node = `${nodeId}/node`;
    if (filter === null) {
      if (context.following.delete(nodeId)) system.tell(self, node, "inspect.unfollow", null);
      continue;
    }
    if (!system.isReachable(nodeId)) {
      context.following.delete(nodeId); // it forgets us when it goes; follow again when back
      continue;
    }
    context.following.add(nodeId);
    system.ask(self, node, "inspect.follow", filter, FOLLOW_ASK_TIMEOUT_MS).catch((error) => {
      context.following.delete(nodeId);
      logger.debug({ node: nodeId, error: String(error) }, "inspector feed: follow failed");
    });
  }
}

function unfollowAll(context: LiveFeedContext): void {
  const self = context.system.address(context.name);
  for (const nodeId of context.following) {
    context.system.tell(self, `${nodeId}/node`, "inspect.unfollow", null);
  }
  context.following.clear();
}

function hasWatchers(context: LiveFeedContext): boolean {
  return context.nodes().some((n) => context.port.filterFor(n) !== null);
}

export const liveFeedMachine = setup({
  types: {
    context: {} as LiveFeedContext,
    input: {} as LiveFeedInput,
    events: {} as LiveFeedEvent,
  },
  delays: {
    refollow: ({ context }) => context.refollowMs ?? DEFAULT_REFOLLOW_MS,
  },
  guards: {
    someoneWatches: ({ context }) => hasWatchers(context),
    nobodyWatches: ({ context }) => !hasWatchers(context),
  },
  actions: {
    followEveryNode: ({ context }) => followAll(context),
    unfollowEveryNode: ({ context }) => unfollowAll(context),
    deliverRecords: ({ context, event }) => {
      if (event.type === "inspect.records" && Array.isArray(event.body)) {
        context.port.deliver(event.body);
      }
    },
  },
}).createMachine({
  id: "inspector-feed",
  context: ({ input }) => ({ ...input, following: new Set<string>() }),
  initial: "idle",
  on: { "inspect.records": { actions: "deliverRecords" } },
  states: {
    idle: {
      on: { "feed.refresh": { guard: "someoneWatches", target: "following" } },
    },
    following: {
      entry: "followEveryNode",
      exit: "unfollowEveryNode",
      initial: "waiting",
      states: {
        // re-entering the child re-arms the timer without leaving `following` (no unfollow)
        waiting: {
          after: { refollow: { target: "waiting", reenter: true, actions: "followEveryNode" } },
        },
      },
      on: {
        "feed.refresh": [
          { guard: "nobodyWatches", target: "idle" },
          { actions: "followEveryNode" },
        ],
      },
    },
  },
});
