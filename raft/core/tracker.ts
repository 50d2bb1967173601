/**
 * The progress tracker (etcd-io/raft's tracker/tracker.go): the active membership configuration,
 * the leader's Progress for every member, and the votes of the current election.
 */
import type { ConfState, NodeId } from "./messages.ts";
import type { Progress } from "./progress.ts";
import {
  type JointVoters,
  jointCommittedIndex,
  jointVoteResult,
  type VoteResult,
} from "./quorum.ts";

/** A membership configuration. Sets are kept sorted-on-read for deterministic iteration. */
export interface TrackerConfig {
  /** Incoming voters. */
  voters: Set<NodeId>;
  /** Outgoing voters, non-empty only in a joint configuration. */
  votersOutgoing: Set<NodeId>;
  /** Learners; never voters (incoming or outgoing) at the same time. */
  learners: Set<NodeId>;
  /** Outgoing voters to turn into learners when the joint configuration is left. */
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

export function emptyTrackerConfig(): TrackerConfig {
  return {
    voters: new Set(),
    votersOutgoing: new Set(),
    learners: new Set(),
    learnersNext: new Set(),
    autoLeave: false,
  };
}

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: new Set(c.voters),
    votersOutgoing: new Set(c.votersOutgoing),
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function isJoint(c: TrackerConfig): boolean {
  return c.votersOutgoing.size > 0;
}

export function confStateOf(c: TrackerConfig): ConfState {
  return {
    voters: sorted(c.voters),
    learners: sorted(c.learners),
    votersOutgoing: sorted(c.votersOutgoing),
    learnersNext: sorted(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function sorted(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort();
}

export type ProgressMap = Map<NodeId, Progress>;

export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: ProgressMap = new Map();
  /** Votes received in the current (pre-)election: true = granted. */
  readonly votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflight: number) {}

  jointVoters(): JointVoters {
    return [this.config.voters, this.config.votersOutgoing];
  }

  confState(): ConfState {
    return confStateOf(this.config);
  }

  /** Exactly one voter and no joint config: the leader decides alone. */
  isSingleton(): boolean {
    return this.config.voters.size === 1 && this.config.votersOutgoing.size === 0;
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters.has(id) || this.config.votersOutgoing.has(id);
  }

  /** Visits every tracked member in id order (deterministic). */
  visit(fn: (id: NodeId, pr: Progress) => void): void {
    for (const id of sorted(this.progress.keys())) fn(id, this.progress.get(id)!);
  }

  /** The voters of the incoming and outgoing configs, in id order. */
  voterIds(): NodeId[] {
    return sorted(new Set([...this.config.voters, ...this.config.votersOutgoing]));
  }

  /** The highest index acknowledged by a quorum (joint-aware). */
  committed(): number {
    return jointCommittedIndex(this.jointVoters(), (id) => this.progress.get(id)?.match);
  }

  /** Whether a quorum of voters was recently active (check-quorum). */
  quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    });
    return jointVoteResult(this.jointVoters(), votes) === "won";
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records the first vote of `id` in this election; later ones are ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    this.visit((id, pr) => {
      if (pr.isLearner) return;
      const v = this.votes.get(id);
      if (v === undefined) return;
      if (v) granted++;
      else rejected++;
    });
    return { granted, rejected, result: jointVoteResult(this.jointVoters(), this.votes) };
  }
}
