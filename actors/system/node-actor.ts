import { setup } from "xstate";
import type { InspectionPage } from "./inspection-ring.ts";
import type { ChartNode } from "./machine-chart.ts";
import type { ActorMessage } from "./message.ts";

/**
 * The `node` actor every bosun process runs at `nodeId/node`: it answers questions about this
 * node (status, inspection pages, statecharts) from any other node, and streams inspection
 * records to followers. The machine decides nothing but which questions it takes while
 * serving; the answers come from the NodeIntrospection port the process provides.
 */
/**
 * What a follower wants streamed: one actor (`address`, with its invoked children), a few
 * (`addresses`), or everything; `changesOnly` keeps actor creations and snapshots whose state or
 * status moved (a cluster overview, not every tick).
 */
export interface FollowFilter {
  address?: string;
  addresses?: string[];
  changesOnly?: boolean;
}

/** The tell that carries a follower's records: `InspectionRecord[]`, oldest first. */
export const INSPECT_RECORDS_KIND = "inspect.records";

/** Addresses one follower may name (the browser inspector watches a handful). */
export const MAX_FOLLOW_ADDRESSES = 64;

export interface NodeIntrospection {
  status(): unknown;
  inspectionPage(sinceSeq: number, address: string | undefined, limit: number): InspectionPage;
  chart(actor: string): { chart: ChartNode; state: unknown } | { error: string };
  /** Starts streaming to `subscriber`, or changes what it gets if it already follows. */
  follow(subscriber: string, filter: FollowFilter): string | null;
  unfollow(subscriber: string): void;
  crashActor(actor: string): string | null;
}

export type NodeActorEvent =
  | ActorMessage<"system.ping", null>
  | ActorMessage<"system.status", null>
  | ActorMessage<"inspect.query", { sinceSeq?: number; address?: string; limit?: number }>
  | ActorMessage<"inspect.chart", { actor: string }>
  | ActorMessage<"inspect.follow", FollowFilter>
  | ActorMessage<"inspect.unfollow", null>
  | ActorMessage<"chaos.crash-actor", { actor: string }>
  | { type: "node.stop" };

function bodyField<T>(body: unknown, key: string, check: (v: unknown) => v is T): T | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const value = (body as Record<string, unknown>)[key];
  return check(value) ? value : undefined;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

export const nodeActorMachine = setup({
  types: {
    events: {} as NodeActorEvent,
    input: {} as { port: NodeIntrospection },
    context: {} as { port: NodeIntrospection },
  },
  actions: {
    answerPing: ({ event }) => {
      if (event.type === "system.ping") event.reply?.({ pong: true });
    },
    answerStatus: ({ context, event }) => {
      if (event.type === "system.status") event.reply?.(context.port.status());
    },
    answerQuery: ({ context, event }) => {
      if (event.type !== "inspect.query") return;
      const sinceSeq = bodyField(event.body, "sinceSeq", isCount) ?? 0;
      const address = bodyField(event.body, "address", isString);
      const limit = bodyField(event.body, "limit", isCount) ?? 500;
      event.reply?.(context.port.inspectionPage(sinceSeq, address, limit));
    },
    answerChart: ({ context, event }) => {
      if (event.type !== "inspect.chart") return;
      const actor = bodyField(event.body, "actor", isString);
      if (actor === undefined) return event.fail?.("inspect.chart needs {actor: string}");
      const answer = context.port.chart(actor);
      if ("error" in answer) event.fail?.(answer.error);
      else event.reply?.(answer);
    },
    startFollower: ({ context, event }) => {
      if (event.type !== "inspect.follow") return;
      const filter: FollowFilter = {};
      const address = bodyField(event.body, "address", isString);
      if (address !== undefined) filter.address = address;
      const addresses = bodyField(event.body, "addresses", isStringList);
      if (addresses !== undefined) filter.addresses = addresses.slice(0, MAX_FOLLOW_ADDRESSES);
      if (bodyField(event.body, "changesOnly", isBoolean)) filter.changesOnly = true;
      const error = context.port.follow(event.from, filter);
      if (error) event.fail?.(error);
      else event.reply?.({ following: true });
    },
    stopFollower: ({ context, event }) => {
      if (event.type !== "inspect.unfollow") return;
      context.port.unfollow(event.from);
      event.reply?.({ following: false });
    },
    crashActor: ({ context, event }) => {
      if (event.type !== "chaos.crash-actor") return;
      const actor = bodyField(event.body, "actor", isString);
      if (actor === undefined) return event.fail?.("chaos.crash-actor needs {actor: string}");
      const error = context.port.crashActor(actor);
      if (error) event.fail?.(error);
      else event.reply?.({ crashed: actor });
    },
  },
}).createMachine({
  id: "node",
  context: ({ input }) => ({ port: input.port }),
  initial: "serving",
  states: {
    serving: {
      on: {
        "system.ping": { actions: "answerPing" },
        "system.status": { actions: "answerStatus" },
        "inspect.query": { actions: "answerQuery" },
        "inspect.chart": { actions: "answerChart" },
        "inspect.follow": { actions: "startFollower" },
        "inspect.unfollow": { actions: "stopFollower" },
        "chaos.crash-actor": { actions: "crashActor" },
        "node.stop": { target: "stopped" },
      },
    },
    stopped: { type: "final" },
  },
});
