/**
 * When a learner has caught up enough to become a voter (Raft thesis §4.2.1, "Catching up new
 * servers"): replication proceeds in rounds; each round replicates every entry the leader had
 * committed when the round began. A learner whose last round took less than an election timeout
 * is caught up: promoting it costs the cluster at most one election timeout of unavailability.
 *
 * A fixed lag ("within N entries of commit") is not enough on its own: under a steady write load
 * on a busy machine the entries in flight alone exceed any small N, and a learner that keeps pace
 * would never qualify. The small-lag rule is kept as a shortcut for an idle cluster.
 *
 * Pure: the caller feeds it the learner's match index, the leader's commit index and its clock.
 */
export interface CatchUpLimits {
  /** A round that takes at most this long ends the catching up (about an election timeout). */
  roundMs: number;
  /** A learner within this many entries of the commit index counts as caught up at once. */
  caughtUpLagEntries: number;
}

export class CatchUpRounds {
  private roundStartMs: number;
  private roundTarget: number;
  private roundsValue = 1;

  constructor(
    private readonly limits: CatchUpLimits,
    commit: number,
    nowMs: number,
  ) {
    this.roundStartMs = nowMs;
    this.roundTarget = commit;
  }

  /** Rounds begun so far (for the error that reports a learner that never caught up). */
  get rounds(): number {
    return this.roundsValue;
  }

  /** true once the learner counts as caught up; otherwise it may begin the next round. */
  observe(match: number, commit: number, nowMs: number): boolean {
    if (match + this.limits.caughtUpLagEntries >= commit) return true;
    if (match < this.roundTarget) return false;
    if (nowMs - this.roundStartMs <= this.limits.roundMs) return true;
    this.roundStartMs = nowMs;
    this.roundTarget = commit;
    this.roundsValue++;
    return false;
  }
}
