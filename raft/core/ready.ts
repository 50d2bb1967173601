/**
 * The Ready batch: everything a node asks its host to do between two calls to `advance()`.
 *
 * The host handles a Ready in this order (etcd-io/raft's contract):
 *  1. send `messages` (may be done in parallel with step 2: they do not depend on this Ready's
 *     writes — a leader may replicate entries it has not yet persisted itself, Raft thesis §10.2.1);
 *  2. persist `snapshot` (if any), then `entries` (with suffix truncation), then `hardState` —
 *     fsync'd when `mustSync`;
 *  3. only then send `messagesAfterPersist` (votes, append acks: they promise what was just
 *     persisted, Raft Fig. 2 "respond after updating stable storage");
 *  4. apply `snapshot` (if any) and then `committedEntries` to the state machine; serve
 *     `readStates` once the applied index reaches their `index`;
 *  5. call `advance()`.
 */
import type { Entry, HardState, Message, NodeId, Snapshot } from "./messages.ts";

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state, useful for logging and for the role statechart; never persisted. */
export interface SoftState {
  /** The known leader of the current term, or null. */
  lead: NodeId | null;
  role: Role;
}

/**
 * A linearizable read is ready: once the state machine has applied `index`, a read issued with
 * `requestCtx` reflects every write committed before the read was requested.
 */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export interface Ready {
  /** Present only when it changed since the previous Ready. */
  softState: SoftState | null;
  /** Present only when it changed since the previous Ready; persist before messagesAfterPersist. */
  hardState: HardState | null;
  readStates: ReadState[];
  /** Entries to append to stable storage (after `snapshot`, truncating any conflicting suffix). */
  entries: Entry[];
  /** A snapshot to persist and to apply to the state machine, or null. */
  snapshot: Snapshot | null;
  /** Committed entries to apply, in order, after this Ready's writes are persisted. */
  committedEntries: Entry[];
  /** Messages that may be sent at once. A MsgSnap among them must be answered by reportSnapshot. */
  messages: Message[];
  /** Messages that may be sent only after this Ready's snapshot, entries and hardState are durable. */
  messagesAfterPersist: Message[];
  /** Whether the writes must be fsync'd (term, vote or log changed). */
  mustSync: boolean;
}

export function isReadyEmpty(rd: Ready): boolean {
  return (
    rd.softState === null &&
    rd.hardState === null &&
    rd.readStates.length === 0 &&
    rd.entries.length === 0 &&
    rd.snapshot === null &&
    rd.committedEntries.length === 0 &&
    rd.messages.length === 0 &&
    rd.messagesAfterPersist.length === 0
  );
}
