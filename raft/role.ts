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
import type { ConfChange, Message, NodeId } from "./core/messages.ts";
import type { RaftNode } from "./core/raft.ts";
import type { Ready } from "./core/ready.ts";

/** Default tick interval: with electionTick 10 an election timeout of 1–2 s, like etcd. */
export const DEFAULT_TICK_INTERVAL_MS = 100;

export interface RaftRoleInput {
  node: RaftNode;
  /** Called with each Ready; the host answers with an ADVANCE event once it is handled. */
  onReady: (rd: Ready) => void;
  /** Called when a proposal, read or transfer sent as an event is refused. */
  onDropped?: (err: ProposalDroppedError & { requestId?: string }) => void;
  /**
   * Turns a message from a peer actor (delivered by the actor system as `{type: kind, body}`)
   * into a Raft message to step, or null to ignore it (e.g. a snapshot chunk still gathering).
   */
  onPeerMessage?: (msg: PeerMessageEvent) => Message | null;
  tickIntervalMs?: number;
}

/** A message from another node's actor system: `raft.msg`, or `raft.snap` chunks. */
export interface PeerMessageEvent {
  type: "raft.msg" | "raft.snap";
  body: unknown;
  from: string;
}

interface RaftRoleContext {
  node: RaftNode;
  onReady: (rd: Ready) => void;
  onDropped: ((err: ProposalDroppedError & { requestId?: string }) => void) | null;
  onPeerMessage: ((msg: PeerMessageEvent) => Message | null) | null;
  tickIntervalMs: number;
}

export type RaftRoleEvent =
  | { type: "STEP"; message: Message }
  | { type: "PROPOSE"; data: Uint8Array; requestId?: string }
  | { type: "PROPOSE_CONF_CHANGE"; cc: ConfChange }
  | { type: "REPORT_UNREACHABLE"; id: NodeId }
  | { type: "FORGET_LEADER" }
  | { type: "REPORT_SNAPSHOT"; id: NodeId; ok: boolean }
  | PeerMessageEvent
  | { type: "READ_INDEX"; ctx: Uint8Array }
  | { type: "TRANSFER_LEADER"; to: NodeId }
  | { type: "CAMPAIGN" }
  | { type: "ADVANCE" };

function isDropped(e: unknown): e is ProposalDroppedError {
  return e instanceof Error && e.name === "ProposalDroppedError";
}

function runOrReportDrop(context: RaftRoleContext, fn: () => void, requestId?: string): void {
  try {
    fn();
  } catch (e) {
    if (!isDropped(e)) throw e;
    context.onDropped?.(requestId === undefined ? e : Object.assign(e, { requestId }));
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
  if (event.type === "PROPOSE") {
    runOrReportDrop(context, () => context.node.propose(event.data), event.requestId);
  }
}

function proposeConfChangeToNode({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type === "PROPOSE_CONF_CHANGE") {
    runOrReportDrop(context, () => context.node.proposeConfChange(event.cc));
  }
}

/** A peer's message, unwrapped by the host (which also reassembles snapshot chunks). */
function stepPeerMessage({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type !== "raft.msg" && event.type !== "raft.snap") return;
  const message = context.onPeerMessage?.(event) ?? null;
  if (message !== null) context.node.step(message);
}

function reportUnreachable({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type === "REPORT_UNREACHABLE") context.node.reportUnreachable(event.id);
}

function reportSnapshot({
  context,
  event,
}: {
  context: RaftRoleContext;
  event: RaftRoleEvent;
}): void {
  if (event.type === "REPORT_SNAPSHOT") context.node.reportSnapshot(event.id, event.ok);
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

function forgetLeader({ context }: { context: RaftRoleContext }): void {
  context.node.forgetLeader();
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
    proposeConfChangeToNode,
    stepPeerMessage,
    reportUnreachable,
    reportSnapshot,
    readIndexAtNode,
    transferLeadership,
    campaignNow,
    forgetLeader,
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
    onPeerMessage: input.onPeerMessage ?? null,
    tickIntervalMs: input.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS,
  }),
  on: {
    STEP: { actions: ["stepNode", "emitReady"] },
    PROPOSE: { actions: ["proposeToNode", "emitReady"] },
    PROPOSE_CONF_CHANGE: { actions: ["proposeConfChangeToNode", "emitReady"] },
    "raft.msg": { actions: ["stepPeerMessage", "emitReady"] },
    "raft.snap": { actions: ["stepPeerMessage", "emitReady"] },
    REPORT_UNREACHABLE: { actions: ["reportUnreachable", "emitReady"] },
    REPORT_SNAPSHOT: { actions: ["reportSnapshot", "emitReady"] },
    READ_INDEX: { actions: ["readIndexAtNode", "emitReady"] },
    TRANSFER_LEADER: { actions: ["transferLeadership", "emitReady"] },
    CAMPAIGN: { actions: ["campaignNow", "emitReady"] },
    FORGET_LEADER: { actions: ["forgetLeader", "emitReady"] },
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
