/**
 * The `store` actor on every server: the key/value API of the replicated store, spoken as actor
 * messages (asks) by the store client on any node.
 *
 *   kv.propose {envelope}            → {outcome, leader}   a write (any replica; forwarded)
 *   kv.range {request, serializable} → RangeResponse       linearizable by default (ReadIndex)
 *   kv.watch {request, tag}          → {tag}, then kv.watch.event {tag, response} tells
 *   kv.watch.cancel {tag}            → {canceled}
 *   kv.watch.progress {tag}          (a tell) the watch sends a progress response with the
 *                                    server's revision once it has delivered everything up to it
 *
 * The watch's tag is chosen by the client, so that events racing ahead of the ask's reply are
 * still recognised.
 *   kv.status                        → the replica's status
 *
 * The machine is small on purpose: `serving` until the node stops; the answers come from the
 * replica and the store through the StorePort the process provides.
 */
import { setup } from "xstate";
import { type ActorMessage, answerAsk } from "../../actors/system/message.ts";
import type { CommandEnvelope } from "../mvcc/commands.ts";
import type { RangeRequest } from "../mvcc/store.ts";
import type { WatchRequest } from "../mvcc/watch-hub.ts";

export interface StorePort {
  propose(envelope: CommandEnvelope): Promise<unknown>;
  range(request: RangeRequest, serializable: boolean): Promise<unknown>;
  /** Starts a watch; its responses go to `subscriber` as `{tag, response}` tells. */
  watch(subscriber: string, tag: string, request: WatchRequest): void;
  cancelWatch(subscriber: string, tag: string): boolean;
  /** etcd's RequestProgress for one watch; false when there is no such watch. */
  requestProgress(subscriber: string, tag: string): boolean;
  status(): unknown;
}

export type StoreServiceEvent =
  | ActorMessage<"kv.propose", { envelope: CommandEnvelope }>
  | ActorMessage<"kv.range", { request: RangeRequest; serializable?: boolean }>
  | ActorMessage<"kv.watch", { request: WatchRequest; tag: string }>
  | ActorMessage<"kv.watch.cancel", { tag: string }>
  | ActorMessage<"kv.watch.progress", { tag: string }>
  | ActorMessage<"kv.status", null>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

export const storeServiceMachine = setup({
  types: {
    context: {} as { port: StorePort },
    input: {} as { port: StorePort },
    events: {} as StoreServiceEvent,
  },
  actions: {
    proposeWrite: ({ context, event }) => {
      if (event.type !== "kv.propose") return;
      answerAsk(event, () => {
        if (!isObject(event.body) || !isObject(event.body.envelope)) {
          throw new Error("kv.propose needs {envelope: {command, session?}}");
        }
        return context.port.propose(event.body.envelope);
      });
    },
    serveRange: ({ context, event }) => {
      if (event.type !== "kv.range") return;
      answerAsk(event, () => {
        if (!isObject(event.body) || !isObject(event.body.request)) {
          throw new Error("kv.range needs {request: {key, rangeEnd?, ...}}");
        }
        return context.port.range(event.body.request, event.body.serializable === true);
      });
    },
    startWatch: ({ context, event }) => {
      if (event.type !== "kv.watch") return;
      answerAsk(event, () => {
        const body = event.body;
        if (!isObject(body) || !isObject(body.request) || typeof body.tag !== "string") {
          throw new Error(
            "kv.watch needs {request: {key, rangeEnd?, startRevision?}, tag: string}",
          );
        }
        context.port.watch(event.from, body.tag, body.request);
        return { tag: body.tag };
      });
    },
    cancelWatch: ({ context, event }) => {
      if (event.type !== "kv.watch.cancel") return;
      answerAsk(event, () => ({
        canceled: context.port.cancelWatch(event.from, String(event.body?.tag)),
      }));
    },
    requestWatchProgress: ({ context, event }) => {
      if (event.type !== "kv.watch.progress") return;
      // a tell: an unknown tag (a watch already gone) needs no answer
      context.port.requestProgress(event.from, String(event.body?.tag));
    },
    reportStatus: ({ context, event }) => {
      if (event.type === "kv.status") answerAsk(event, () => context.port.status());
    },
  },
}).createMachine({
  id: "store",
  context: ({ input }) => ({ port: input.port }),
  initial: "serving",
  states: {
    serving: {
      on: {
        "kv.propose": { actions: "proposeWrite" },
        "kv.range": { actions: "serveRange" },
        "kv.watch": { actions: "startWatch" },
        "kv.watch.cancel": { actions: "cancelWatch" },
        "kv.watch.progress": { actions: "requestWatchProgress" },
        "kv.status": { actions: "reportStatus" },
      },
    },
  },
});
