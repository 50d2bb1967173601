/**
 * Growing and shrinking the cluster online, one server at a time (Raft thesis §4.2.1 with
 * non-voting members first, §4.2.1 "catching up new servers"): a new server joins as a learner,
 * is promoted to voter once it has caught up with the leader's log, and a server is removed with
 * one configuration change. Runs on the leader.
 */

import { Packr } from "msgpackr";
import { type Clock, sleep } from "../../actors/system/clock.ts";
import type { ConfChange, ConfState } from "../core/messages.ts";
import { CatchUpRounds } from "./catch-up-rounds.ts";
import type { Replica } from "./replica.ts";

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** What a conf change carries for the application: the member's mesh address. */
export interface MemberContext {
  id: string;
  address: string;
}

export function encodeMemberContext(ctx: MemberContext): Uint8Array {
  return packr.pack(ctx);
}

export function decodeMemberContext(data: Uint8Array): MemberContext | null {
  if (data.byteLength === 0) return null;
  try {
    const v = packr.unpack(data) as Partial<MemberContext>;
    return typeof v?.id === "string" && typeof v.address === "string" ? (v as MemberContext) : null;
  } catch {
    return null;
  }
}

export interface MembershipLimits {
  /** How long one configuration change may take to apply. */
  changeTimeoutMs: number;
  /** How long a learner may take to catch up before its promotion is given up. */
  catchUpTimeoutMs: number;
  /** A learner within this many entries of the leader's commit counts as caught up. */
  caughtUpLagEntries: number;
  /** A catch-up round (catch-up-rounds.ts) this short ends the catching up. */
  catchUpRoundMs: number;
  pollMs: number;
}

export const DEFAULT_MEMBERSHIP_LIMITS: MembershipLimits = {
  changeTimeoutMs: 10_000,
  catchUpTimeoutMs: 60_000,
  caughtUpLagEntries: 10,
  // the longest election timeout at the default timings (tick 50 ms × 10–20 ticks)
  catchUpRoundMs: 1_000,
  pollMs: 20,
};

export class NotLeaderError extends Error {
  constructor(readonly leader: string | null) {
    super(`not the leader; the leader is ${leader ?? "unknown"}`);
    this.name = "NotLeaderError";
  }
}

/** What a membership change needs of the local replica (a fake in unit tests). */
export type MembershipReplica = Pick<
  Replica,
  "status" | "softState" | "members" | "proposeConfChange" | "transferLeadership"
>;

export class Membership {
  constructor(
    private readonly replica: MembershipReplica,
    private readonly clock: Clock,
    private readonly limits: MembershipLimits = DEFAULT_MEMBERSHIP_LIMITS,
  ) {}

  /** Adds `id` as a learner, waits until it has caught up, then makes it a voter. */
  async add(id: string, address: string): Promise<ConfState> {
    this.requireLeader();
    const st = this.replica.status();
    if (st.voters.includes(id)) throw new Error(`${id} is already a voter`);
    const context = encodeMemberContext({ id, address });
    if (!st.learners.includes(id)) {
      await this.change(
        { transition: "auto", changes: [{ type: "addLearner", nodeId: id }], context },
        (cs) => cs.learners.includes(id),
      );
    }
    const rounds = new CatchUpRounds(
      { roundMs: this.limits.catchUpRoundMs, caughtUpLagEntries: this.limits.caughtUpLagEntries },
      this.replica.status().commit,
      this.clock.nowMs(),
    );
    await this.until(`${id} to catch up`, this.limits.catchUpTimeoutMs, () => {
      // Only a leader tracks its followers' progress: one that lost the lead mid-wait (an
      // election on a busy machine) would wait out the timeout on empty progress. The caller
      // asks the new leader instead, which finds the learner added and waits for it there.
      this.requireLeader();
      const now = this.replica.status();
      return rounds.observe(now.progress[id]?.match ?? 0, now.commit, this.clock.nowMs());
    });
    return this.change(
      { transition: "auto", changes: [{ type: "addVoter", nodeId: id }], context },
      (cs) => cs.voters.includes(id),
    );
  }

  /** Removes `id` (voter or learner) with one configuration change. */
  async remove(id: string): Promise<ConfState> {
    this.requireLeader();
    const st = this.replica.status();
    if (!st.voters.includes(id) && !st.learners.includes(id))
      throw new Error(`${id} is not a member`);
    if (st.voters.length === 1 && st.voters[0] === id) throw new Error(`${id} is the last voter`);
    if (id === st.id) {
      // A leader removing itself steps down on apply; hand over first so writes do not pause.
      const next = st.voters.find((v) => v !== id)!;
      this.replica.transferLeadership(next);
      throw new NotLeaderError(next);
    }
    return this.change(
      {
        transition: "auto",
        changes: [{ type: "removeNode", nodeId: id }],
        context: new Uint8Array(),
      },
      (cs) => !cs.voters.includes(id) && !cs.learners.includes(id),
    );
  }

  /**
   * etcd's `move-leader`: hands leadership to the voter `id` and waits until this replica sees
   * it lead. A transfer the target cannot win (it lags, or is down) is given up by the core
   * after an election timeout; then this fails and the old leader leads on.
   */
  async moveLeader(id: string): Promise<{ leader: string }> {
    this.requireLeader();
    const st = this.replica.status();
    if (!st.voters.includes(id)) throw new Error(`${id} is not a voter`);
    if (id === st.id) return { leader: id };
    this.replica.transferLeadership(id);
    await this.until(`${id} to lead`, this.limits.changeTimeoutMs, () => {
      const soft = this.replica.softState();
      return soft.lead === id;
    });
    return { leader: id };
  }

  private requireLeader(): void {
    const soft = this.replica.softState();
    if (soft.role !== "leader") throw new NotLeaderError(soft.lead);
  }

  /** Proposes `cc` (again, if dropped) until `applied` holds for the replica's membership. */
  private async change(cc: ConfChange, applied: (cs: ConfState) => boolean): Promise<ConfState> {
    const deadline = this.clock.nowMs() + this.limits.changeTimeoutMs;
    let proposedAt = Number.NEGATIVE_INFINITY;
    for (;;) {
      const st = this.replica.status();
      const cs: ConfState = { ...this.replica.members() };
      if (applied(cs)) return cs;
      if (st.role !== "leader") throw new NotLeaderError(st.leader);
      // a conf change is refused while another is pending: propose again every second
      if (this.clock.nowMs() - proposedAt > 1_000) {
        this.replica.proposeConfChange(cc);
        proposedAt = this.clock.nowMs();
      }
      if (this.clock.nowMs() > deadline)
        throw new Error(`membership change not applied within ${this.limits.changeTimeoutMs} ms`);
      await sleep(this.clock, this.limits.pollMs);
    }
  }

  private async until(what: string, timeoutMs: number, done: () => boolean): Promise<void> {
    const deadline = this.clock.nowMs() + timeoutMs;
    while (!done()) {
      if (this.clock.nowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(this.clock, this.limits.pollMs);
    }
  }
}
