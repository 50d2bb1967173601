/** A read-only view of a node, for `bosun status`, metrics, tests and the simulator's checks. */
import type { ConfState, NodeId } from "./messages.ts";
import type { Role } from "./ready.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's view of one peer's replication (Raft §5.3 nextIndex/matchIndex). */
export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  /** The snapshot index being sent, in snapshot state; 0 otherwise. */
  pendingSnapshot: number;
  /** Heard from within the current election timeout (check-quorum). */
  recentActive: boolean;
  /** Sending paused: probe awaiting a reply, full inflights, or snapshot in flight. */
  paused: boolean;
  inflightCount: number;
  isLearner: boolean;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId | null;
  commit: number;
  applied: number;
  lead: NodeId | null;
  role: Role;
  /** The node leadership is being handed to, or null. */
  leadTransferee: NodeId | null;
  config: ConfState;
  /** Per peer (including the leader itself), only on the leader; empty otherwise. */
  progress: Record<NodeId, ProgressStatus>;
}
