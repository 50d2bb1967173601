/**
 * Quorum arithmetic (etcd-io/raft's quorum/): the commit index a configuration agrees on and the
 * outcome of a vote, for a simple majority and for a joint configuration (Raft §6: during a
 * membership change a decision needs a majority of the old voters AND of the new ones).
 */
import type { NodeId } from "./messages.ts";

export type VoteResult = "pending" | "lost" | "won";

/** The commit index of an empty configuration: it agrees to anything (the identity of `min`). */
export const UNBOUNDED_INDEX = Number.MAX_SAFE_INTEGER;

/**
 * The largest index acknowledged by a majority of `voters`: sort acked indexes descending and
 * take the (n/2+1)-th. Voters without an ack count as 0.
 */
export function majorityCommittedIndex(
  voters: ReadonlySet<NodeId>,
  acked: (id: NodeId) => number | undefined,
): number {
  const n = voters.size;
  if (n === 0) return UNBOUNDED_INDEX;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => b - a);
  return indexes[Math.floor(n / 2)]!;
}

/** Won with a majority of yes votes, lost once a majority is out of reach, else pending. */
export function majorityVoteResult(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return "won"; // an empty config wins everything (joint with no outgoing)
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (yes >= q) return "won";
  if (yes + missing >= q) return "pending";
  return "lost";
}

/** A joint configuration: [incoming, outgoing]; outgoing is empty outside a membership change. */
export type JointVoters = readonly [ReadonlySet<NodeId>, ReadonlySet<NodeId>];

export function jointCommittedIndex(
  voters: JointVoters,
  acked: (id: NodeId) => number | undefined,
): number {
  return Math.min(
    majorityCommittedIndex(voters[0], acked),
    majorityCommittedIndex(voters[1], acked),
  );
}

export function jointVoteResult(
  voters: JointVoters,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const r1 = majorityVoteResult(voters[0], votes);
  const r2 = majorityVoteResult(voters[1], votes);
  if (r1 === r2) return r1;
  if (r1 === "lost" || r2 === "lost") return "lost";
  return "pending";
}
