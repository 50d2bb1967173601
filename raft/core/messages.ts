/**
 * The Raft wire and persistence types (the role of etcd's `raftpb`): log entries, hard state,
 * snapshots, membership, and the typed union of every message a node can step.
 *
 * Every message carries `from`, `to` and `term`. A `term` of 0 marks a local message (one the
 * node gives itself, or a proposal/read forwarded between peers), as in etcd-io/raft.
 * Messages are plain data (no classes, no methods) so they survive a msgpack round trip.
 */

/** A cluster member's id, e.g. "n1". The empty string is never a valid id. */
export type NodeId = string;

export type EntryType = "normal" | "confChange";

/** One log entry. `data` is opaque to Raft; for `confChange` it is an encoded ConfChange. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on stable storage before any message of the same Ready is sent (Raft §5, Fig. 2). */
export interface HardState {
  term: number;
  /** The candidate voted for in `term`, or null. */
  vote: NodeId | null;
  commit: number;
}

/**
 * The membership configuration. In a joint configuration (Raft §6), `votersOutgoing` holds the
 * old voters and `voters` the new ones; a decision needs a majority of each.
 */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  /** The outgoing voters while in a joint configuration; empty otherwise. */
  votersOutgoing: NodeId[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  learnersNext: NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

/** A whole snapshot of the state machine at `metadata.index`. `data` is opaque to Raft. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Membership changes (etcd's ConfChangeV2).

export type ConfChangeType = "addVoter" | "addLearner" | "removeNode";

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
}

/**
 * How a change that touches more than one voter is carried out:
 * - "auto": one voter change is applied directly (simple); more use joint consensus that is left
 *   automatically once committed.
 * - "implicit": always joint consensus, left automatically.
 * - "explicit": always joint consensus, left only by proposing an empty ConfChange.
 */
export type ConfChangeTransition = "auto" | "implicit" | "explicit";

/** A membership change. An empty `changes` list means "leave the joint configuration". */
export interface ConfChange {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  /** Opaque bytes for the application (e.g. the new member's address). */
  context: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Messages.

interface MessageBase {
  from: NodeId;
  to: NodeId;
  /** The sender's term; 0 for a local message. */
  term: number;
}

/** Local: start an election (pre-vote first when enabled). */
export interface MsgHup extends MessageBase {
  type: "MsgHup";
}

/** Local, leader only: send heartbeats to every peer now. */
export interface MsgBeat extends MessageBase {
  type: "MsgBeat";
}

/** Local, leader only: step down unless a quorum was active in the last election timeout. */
export interface MsgCheckQuorum extends MessageBase {
  type: "MsgCheckQuorum";
}

/**
 * A proposal: local from the application, or forwarded by a follower to its leader.
 * The leader assigns `term` and `index` to the entries; proposers set both to 0.
 */
export interface MsgProp extends MessageBase {
  type: "MsgProp";
  entries: Entry[];
}

/** Leader → follower: append `entries` after (`index`, `logTerm`); advance commit (Raft §5.3). */
export interface MsgApp extends MessageBase {
  type: "MsgApp";
  /** Index of the entry immediately preceding `entries`. */
  index: number;
  /** Term of the entry at `index`. */
  logTerm: number;
  entries: Entry[];
  commit: number;
}

/**
 * Follower → leader. On success `index` is the last index now known to match. On rejection
 * `index` is the rejected MsgApp's `index`, and (`rejectHint`, `logTerm`) name the follower's
 * best guess of the last entry that could match (etcd's fast backtracking).
 */
export interface MsgAppResp extends MessageBase {
  type: "MsgAppResp";
  index: number;
  reject: boolean;
  rejectHint: number;
  logTerm: number;
}

/** Candidate → peers: vote for me in `term`; my log ends at (`index`, `logTerm`) (Raft §5.2, §5.4.1). */
export interface MsgVote extends MessageBase {
  type: "MsgVote";
  index: number;
  logTerm: number;
  /** Set when campaigning after MsgTimeoutNow: peers ignore their leader lease (Raft §3.10). */
  transfer: boolean;
}

export interface MsgVoteResp extends MessageBase {
  type: "MsgVoteResp";
  reject: boolean;
}

/**
 * Pre-candidate → peers: would you vote for me in `term` (= my term + 1)? Does not change
 * anyone's term (Raft thesis §9.6).
 */
export interface MsgPreVote extends MessageBase {
  type: "MsgPreVote";
  index: number;
  logTerm: number;
  transfer: boolean;
}

export interface MsgPreVoteResp extends MessageBase {
  type: "MsgPreVoteResp";
  reject: boolean;
}

/** Leader → follower whose needed entries were compacted: install this snapshot (Raft §7). */
export interface MsgSnap extends MessageBase {
  type: "MsgSnap";
  snapshot: Snapshot;
}

/** Leader → follower: I am alive; commit up to min(`commit`, what you have matched). */
export interface MsgHeartbeat extends MessageBase {
  type: "MsgHeartbeat";
  commit: number;
  /** The ReadIndex round this heartbeat belongs to, or null. */
  context: Uint8Array | null;
}

export interface MsgHeartbeatResp extends MessageBase {
  type: "MsgHeartbeatResp";
  context: Uint8Array | null;
}

/** Local or forwarded to the leader: hand leadership to `transferee` (Raft thesis §3.10). */
export interface MsgTransferLeader extends MessageBase {
  type: "MsgTransferLeader";
  transferee: NodeId;
}

/** Leader → transferee, whose log is up to date: campaign now, ignoring the election timer. */
export interface MsgTimeoutNow extends MessageBase {
  type: "MsgTimeoutNow";
}

/** Local, or a follower forwarding to its leader: a linearizable read (Raft thesis §6.4). */
export interface MsgReadIndex extends MessageBase {
  type: "MsgReadIndex";
  context: Uint8Array;
}

/** Leader → follower that forwarded a MsgReadIndex: the read may be served once `index` is applied. */
export interface MsgReadIndexResp extends MessageBase {
  type: "MsgReadIndexResp";
  index: number;
  context: Uint8Array;
}

/** Local, from the host: peer `from` could not be reached (its progress falls back to probing). */
export interface MsgUnreachable extends MessageBase {
  type: "MsgUnreachable";
}

/** Local, from the host: sending a snapshot to peer `from` finished (`reject` = it failed). */
export interface MsgSnapStatus extends MessageBase {
  type: "MsgSnapStatus";
  reject: boolean;
}

export type Message =
  | MsgHup
  | MsgBeat
  | MsgCheckQuorum
  | MsgProp
  | MsgApp
  | MsgAppResp
  | MsgVote
  | MsgVoteResp
  | MsgPreVote
  | MsgPreVoteResp
  | MsgSnap
  | MsgHeartbeat
  | MsgHeartbeatResp
  | MsgTransferLeader
  | MsgTimeoutNow
  | MsgReadIndex
  | MsgReadIndexResp
  | MsgUnreachable
  | MsgSnapStatus;

export type MessageType = Message["type"];

/** Messages a node only ever gives itself; a host must never put one on the network. */
export const LOCAL_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  "MsgHup",
  "MsgBeat",
  "MsgCheckQuorum",
  "MsgUnreachable",
  "MsgSnapStatus",
]);

/** Responses: a node steps them only from peers it knows (etcd's ErrStepPeerNotFound). */
export const RESPONSE_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  "MsgAppResp",
  "MsgVoteResp",
  "MsgPreVoteResp",
  "MsgHeartbeatResp",
  "MsgUnreachable",
  "MsgSnapStatus",
]);

export function isLocalMessage(m: Message): boolean {
  return LOCAL_MESSAGE_TYPES.has(m.type);
}

export function isResponseMessage(m: Message): boolean {
  return RESPONSE_MESSAGE_TYPES.has(m.type);
}

export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function emptyHardState(): HardState {
  return { term: 0, vote: null, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === null && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function isEmptySnapshot(s: Snapshot | null | undefined): boolean {
  return s == null || s.metadata.index === 0;
}

/** The encoded size of an entry as far as maxSizePerMsg limits are concerned. */
export function entrySizeBytes(e: Entry): number {
  // Payload plus a fixed allowance for term, index and type, like a protobuf header.
  return e.data.byteLength + 16;
}

/** Encodes a ConfChange as the `data` of a confChange entry (UTF-8 JSON; context as an array). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const wire = {
    transition: cc.transition,
    changes: cc.changes.map((c) => ({ type: c.type, nodeId: c.nodeId })),
    context: Array.from(cc.context),
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

/** Decodes the `data` of a confChange entry. Throws on malformed input. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const wire = JSON.parse(new TextDecoder().decode(data)) as {
    transition: ConfChangeTransition;
    changes: ConfChangeSingle[];
    context: number[];
  };
  const transitions: ConfChangeTransition[] = ["auto", "implicit", "explicit"];
  const types: ConfChangeType[] = ["addVoter", "addLearner", "removeNode"];
  if (!transitions.includes(wire.transition) || !Array.isArray(wire.changes)) {
    throw new Error("decodeConfChange: malformed conf change");
  }
  for (const c of wire.changes) {
    if (!types.includes(c.type) || typeof c.nodeId !== "string" || c.nodeId === "") {
      throw new Error("decodeConfChange: malformed change");
    }
  }
  return {
    transition: wire.transition,
    changes: wire.changes.map((c) => ({ type: c.type, nodeId: c.nodeId })),
    context: Uint8Array.from(wire.context ?? []),
  };
}
