/**
 * The Raft role statechart (DESIGN §5): owns the tick timer through the injected clock and
 * drives a pure RaftNode. Two parallel regions:
 *
 * - `clock.ticking`: every `tickInterval` ms, `node.tick()` (election timeouts and heartbeats
 *   are counted in ticks inside the core, so one timer is all the role needs);
 * - `role`: follower / preCandidate / candidate / leader, following the node's SoftState after
 *   every event, so the inspector shows the role live.
 *
 * I/O is the host's job: each Ready is handed to `onReady`; the host persists it, sends its
 * messages, applies it, and then sends `ADVANCE`. At most one Ready is outstanding at a time.
 *
 * Run under simulated time with `createActor(raftRole, { input, clock })`.
 */
import { setup } from "xstate";
import type { ProposalDroppedError } from "./core/errors.ts";
import type { Message, NodeId } from "./core/messages.ts";
import type { RaftNode } from "./core/raft.ts";
import type { Ready } from "./core/ready.ts";

/** Default tick interval: with electionTick 10 an election timeout of 1–2 s, like etcd. */
export const DEFAULT_TICK_INTERVAL_MS = 100;

export interface RaftRoleInput {
  node: RaftNode;
  /** Called with each Ready; the host answers with an ADVANCE event once it is handled. */
  onReady: (rd: Ready) => void;
  /** Called when a proposal, read or transfer sent as an event is refused. */
  onDropped?: (err: ProposalDroppedError) => void;
  tickIntervalMs?: number;
}

interface RaftRoleContext {
  node: RaftNode;
  onReady: (rd: Ready) => void;
  onDropped: ((err: ProposalDroppedError) => void) | null;
  tickIntervalMs: number;
}

export type RaftRoleEvent =
  | { type: "STEP"; message: Message }
  | { type: "PROPOSE"; data: Uint8Array }
  | { type: "READ_INDEX"; ctx: Uint8Array }
  | { type: "TRANSFER_LEADER"; to: NodeId }
  | { type: "CAMPAIGN" }
  | { type: "ADVANCE" };

function isDropped(e: unknown): e is ProposalDroppedError {
  return e instanceof Error && e.name === "ProposalDroppedError";
}

function runOrReportDrop(context: RaftRoleContext, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!isDropped(e)) throw e;
    context.onDropped?.(e);
  }
}

function tickNode({ context }: { context: RaftRoleContext }): void {
  context.node.tick();
}

function stepNode({ context, event }: { context: RaftRoleContext; event: RaftRoleEvent }): void {
  if (event.type === "STEP") context.node.step(event.message);
}

function proposeToNode({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type === "PROPOSE") runOrReportDrop(context, () => context.node.propose(event.data));
}

function readIndexAtNode({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type === "READ_INDEX")
    runOrReportDrop(context, () => context.node.readIndex(event.ctx));
}

function transferLeadership({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type === "TRANSFER_LEADER")
    runOrReportDrop(context, () => context.node.transferLeader(event.to));
}

function campaignNow({ context }: { context: RaftRoleContext }): void {
  context.node.campaign();
}

/** The host handled the last Ready. (An ADVANCE without one is a host bug: the core throws.) */
function advanceNode({ context }: { context: RaftRoleContext }): void {
  context.node.advance();
}

/** Hands the next Ready to the host. The core reports none while one awaits ADVANCE. */
function emitReady({ context }: { context: RaftRoleContext }): void {
  if (context.node.hasReady()) context.onReady(context.node.ready());
}

function isLeader({ context }: { context: RaftRoleContext }): boolean {
  return context.node.softState().role === "leader";
}
function isCandidate({ context }: { context: RaftRoleContext }): boolean {
  return context.node.softState().role === "candidate";
}
function isPreCandidate({ context }: { context: RaftRoleContext }): boolean {
  return context.node.softState().role === "preCandidate";
}
function isFollower({ context }: { context: RaftRoleContext }): boolean {
  return context.node.softState().role === "follower";
}

function tickInterval({ context }: { context: RaftRoleContext }): number {
  return context.tickIntervalMs;
}

export const raftRole = setup({
  types: {
    context: {} as RaftRoleContext,
    input: {} as RaftRoleInput,
    events: {} as RaftRoleEvent,
  },
  actions: {
    tickNode,
    stepNode,
    proposeToNode,
    readIndexAtNode,
    transferLeadership,
    campaignNow,
    advanceNode,
    emitReady,
  },
  guards: { isLeader, isCandidate, isPreCandidate, isFollower },
  delays: { tickInterval },
}).createMachine({
  id: "raftRole",
  type: "parallel",
  context: ({ input }) => ({
    node: input.node,
    onReady: input.onReady,
    onDropped: input.onDropped ?? null,
    tickIntervalMs: input.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS,
  }),
  on: {
    STEP: { actions: ["stepNode", "emitReady"] },
    PROPOSE: { actions: ["proposeToNode", "emitReady"] },
    READ_INDEX: { actions: ["readIndexAtNode", "emitReady"] },
    TRANSFER_LEADER: { actions: ["transferLeadership", "emitReady"] },
    CAMPAIGN: { actions: ["campaignNow", "emitReady"] },
    ADVANCE: { actions: ["advanceNode", "emitReady"] },
  },
  states: {
    clock: {
      initial: "ticking",
      states: {
        ticking: {
          after: {
            tickInterval: { target: "ticking", reenter: true, actions: ["tickNode", "emitReady"] },
          },
        },
      },
    },
    role: {
      initial: "follower",
      states: {
        follower: {
          always: [
            { guard: "isLeader", target: "leader" },
            { guard: "isCandidate", target: "candidate" },
            { guard: "isPreCandidate", target: "preCandidate" },
          ],
        },
        preCandidate: {
          always: [
            { guard: "isLeader", target: "leader" },
            { guard: "isCandidate", target: "candidate" },
            { guard: "isFollower", target: "follower" },
          ],
        },
        candidate: {
          always: [
            { guard: "isLeader", target: "leader" },
            { guard: "isPreCandidate", target: "preCandidate" },
            { guard: "isFollower", target: "follower" },
          ],
        },
        leader: {
          always: [
            { guard: "isCandidate", target: "candidate" },
            { guard: "isPreCandidate", target: "preCandidate" },
            { guard: "isFollower", target: "follower" },
          ],
        },
      },
    },
  },
});
