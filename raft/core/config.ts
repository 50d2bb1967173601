/**
 * The knobs of one Raft node. Every default is chosen and explained here; `resolveConfig` fills
 * in what the caller left out and rejects values that would make the protocol unsafe or stuck.
 */

import type { Storage } from "../storage/storage.ts";
import type { NodeId } from "./messages.ts";

/**
 * "safe": a read is confirmed by a heartbeat round with a quorum (Raft thesis §6.4).
 * "leaseBased": the leader trusts its lease (needs checkQuorum; unsafe under clock drift).
 */
export type ReadOnlyOption = "safe" | "leaseBased";

export interface RaftConfig {
  /** This node's id; must be non-empty. */
  id: NodeId;
  /** Where the stable log, hard state and snapshots come from. */
  storage: Storage;
  /**
   * Ticks without hearing from a leader before a follower campaigns. The actual timeout is drawn
   * at random from [electionTick, 2*electionTick) after each reset (Raft §5.2: randomized
   * timeouts make split votes rare). Default 10: with a 100 ms tick, about one second, the
   * usual etcd setting. Must exceed heartbeatTick so followers do not time out between beats.
   */
  electionTick: number;
  /**
   * Ticks between leader heartbeats. Default 1: a heartbeat every tick keeps followers well
   * inside their election timeout (10x margin) and makes ReadIndex rounds fast.
   */
  heartbeatTick: number;
  /** The last index the state machine applied before a restart; 0 for a fresh node. */
  applied: number;
  /**
   * Upper bound on the entry bytes in one MsgApp. Default 1 MiB (etcd server's setting): large
   * enough to amortize per-message overhead, small enough not to stall a link or a heartbeat.
   * One entry is always sent even if it alone is larger, so progress is never blocked.
   */
  maxSizePerMsg: number;
  /**
   * Upper bound on committed-entry bytes handed out in one Ready. Default 64 MiB: bounds the
   * memory of one apply batch after a long catch-up. At least one entry is always handed out.
   */
  maxCommittedSizePerReady: number;
  /**
   * Upper bound on the bytes of entries the leader has appended but not yet committed; further
   * proposals are dropped. Default 0 = unlimited (the uncommitted tail is bounded in practice by
   * maxInflightMsgs * maxSizePerMsg per follower). The empty leader entry is always accepted.
   */
  maxUncommittedEntriesSize: number;
  /**
   * MsgApps a leader may have outstanding to one follower in replicate state (pipelining).
   * Default 256 (etcd's): with maxSizePerMsg it bounds the bytes buffered per peer.
   */
  maxInflightMsgs: number;
  /**
   * Pre-vote (Raft thesis §9.6): a node asks whether it could win before bumping its term, so a
   * node that was partitioned away cannot disrupt a healthy leader on rejoining. Default on.
   */
  preVote: boolean;
  /**
   * Check-quorum: a leader that has not heard from a quorum within an election timeout steps
   * down, and followers that heard from a leader within the timeout ignore vote requests (the
   * leader lease). Default on: without it a partitioned leader keeps accepting proposals that
   * can never commit, and a deposed leader could serve lease reads.
   */
  checkQuorum: boolean;
  /** How ReadIndex confirms leadership. Default "safe". */
  readOnlyOption: ReadOnlyOption;
  /**
   * When false (default), followers forward proposals to the leader they know, like etcd.
   * When true, a follower drops proposals (the host retries at the leader).
   */
  disableProposalForwarding: boolean;
  /**
   * When true (default), a leader that is removed from the configuration steps down once the
   * change is applied, so a new leader is elected among the remaining voters.
   */
  stepDownOnRemoval: boolean;
  /** Seed of the PRNG that draws randomized election timeouts; give each node its own. */
  randomSeed: number;
}

export type RaftConfigInput = Pick<RaftConfig, "id" | "storage"> & Partial<RaftConfig>;

export const DEFAULT_ELECTION_TICK = 10;
export const DEFAULT_HEARTBEAT_TICK = 1;
export const DEFAULT_MAX_SIZE_PER_MSG_BYTES = 1024 * 1024;
export const DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_MSGS = 256;

/** Fills in defaults and validates. Throws a RangeError naming the bad setting. */
export function resolveConfig(input: RaftConfigInput): RaftConfig {
  const c: RaftConfig = {
    electionTick: DEFAULT_ELECTION_TICK,
    heartbeatTick: DEFAULT_HEARTBEAT_TICK,
    applied: 0,
    maxSizePerMsg: DEFAULT_MAX_SIZE_PER_MSG_BYTES,
    maxCommittedSizePerReady: DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES,
    maxUncommittedEntriesSize: 0,
    maxInflightMsgs: DEFAULT_MAX_INFLIGHT_MSGS,
    preVote: true,
    checkQuorum: true,
    readOnlyOption: "safe",
    disableProposalForwarding: false,
    stepDownOnRemoval: true,
    randomSeed: 1,
    ...input,
  };
  if (typeof c.id !== "string" || c.id === "")
    throw new RangeError("raft config: id must be a non-empty string");
  if (!Number.isInteger(c.heartbeatTick) || c.heartbeatTick <= 0)
    throw new RangeError(
      `raft config: heartbeatTick must be a positive integer, got ${c.heartbeatTick}`,
    );
  if (!Number.isInteger(c.electionTick) || c.electionTick <= c.heartbeatTick)
    throw new RangeError(
      `raft config: electionTick (${c.electionTick}) must exceed heartbeatTick (${c.heartbeatTick})`,
    );
  if (!Number.isInteger(c.maxInflightMsgs) || c.maxInflightMsgs <= 0)
    throw new RangeError(
      `raft config: maxInflightMsgs must be a positive integer, got ${c.maxInflightMsgs}`,
    );
  if (c.maxSizePerMsg <= 0) throw new RangeError("raft config: maxSizePerMsg must be positive");
  if (c.maxCommittedSizePerReady <= 0)
    throw new RangeError("raft config: maxCommittedSizePerReady must be positive");
  if (c.maxUncommittedEntriesSize < 0)
    throw new RangeError("raft config: maxUncommittedEntriesSize must be >= 0");
  if (!Number.isInteger(c.applied) || c.applied < 0)
    throw new RangeError("raft config: applied must be >= 0");
  if (c.readOnlyOption === "leaseBased" && !c.checkQuorum)
    throw new RangeError("raft config: readOnlyOption 'leaseBased' requires checkQuorum");
  return c;
}
