/** Why a proposal, read or conf change was refused; thrown synchronously by RaftNode. */
export type ProposalDropReason =
  | "noLeader"
  | "notLeader"
  | "transferInProgress"
  | "confChangeInProgress"
  | "uncommittedSizeExceeded"
  | "notMember";

/** The proposal was not accepted: nothing was appended. Retry later, or at the leader. */
export class ProposalDroppedError extends Error {
  constructor(
    readonly reason: ProposalDropReason,
    detail: string,
  ) {
    super(`raft: proposal dropped (${reason}): ${detail}`);
    this.name = "ProposalDroppedError";
  }
}

/** A broken invariant: the node's state would be corrupted if it continued. Never caught. */
export class RaftInvariantError extends Error {
  constructor(detail: string) {
    super(`raft invariant violated: ${detail}`);
    this.name = "RaftInvariantError";
  }
}

/** Throws RaftInvariantError when `cond` is false (TigerBeetle-style assertion). */
export function invariant(cond: boolean, detail: string | (() => string)): asserts cond {
  if (!cond) throw new RaftInvariantError(typeof detail === "string" ? detail : detail());
}
