/**
 * Watches the cluster's leadership through each server's `/status` (its Raft view): the leader
 * every live member agrees on, the first moment another member takes over after a fault, and
 * when a member has caught up with the leader's commit index. Polls only; every wait is bounded.
 */
import { type Clock, sleep } from "../../actors/system/clock.ts";

export interface RaftView {
  role: string;
  leader: string | null;
  term: number;
  commit: number;
  applied: number;
}

/** Reads one member's Raft view; rejects when the member does not answer. */
export type StatusProbe = (memberId: string) => Promise<RaftView>;

/** How often a new leader is looked for after a fault: the resolution of the window. */
export const NEW_LEADER_POLL_MS = 10;
/** How often slower conditions (agreement, catch-up) are polled. */
export const SETTLE_POLL_MS = 50;

export class WaitTimeout extends Error {
  constructor(what: string, timeoutMs: number, last: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    this.name = "WaitTimeout";
  }
}

export interface NewLeader {
  leader: string;
  term: number;
  /** When the poll that saw it returned (clock.nowMs()). */
  seenMs: number;
}

export class LeaderWatcher {
  constructor(
    private readonly clock: Clock,
    private readonly probe: StatusProbe,
  ) {}

  /** The leader all of `members` agree on (the leader itself included), or waits for one. */
  async agreedLeader(members: () => string[], timeoutMs: number): Promise<NewLeader> {
    return this.poll(`a leader agreed by all live members`, timeoutMs, SETTLE_POLL_MS, async () => {
      const ids = members();
      const views = await Promise.all(ids.map((id) => this.probe(id)));
      const leaders = new Set(views.map((v) => v.leader));
      const [leader] = [...leaders];
      if (leaders.size !== 1 || !leader) return { done: false, last: describe(ids, views) };
      const own = views[ids.indexOf(leader)];
      if (own === undefined || own.role !== "leader") {
        return { done: false, last: describe(ids, views) };
      }
      return { done: true, value: { leader, term: own.term, seenMs: this.clock.nowMs() } };
    });
  }

  /** The first poll in which one of `members` (not `old`) reports itself leader. */
  async newLeader(members: string[], old: string, timeoutMs: number): Promise<NewLeader> {
    const candidates = members.filter((id) => id !== old);
    return this.poll(`a leader other than ${old}`, timeoutMs, NEW_LEADER_POLL_MS, async () => {
      const views = await Promise.allSettled(candidates.map((id) => this.probe(id)));
      const seenMs = this.clock.nowMs();
      for (const [i, v] of views.entries()) {
        if (v.status === "fulfilled" && v.value.role === "leader") {
          return { done: true, value: { leader: candidates[i]!, term: v.value.term, seenMs } };
        }
      }
      const answered = views.map((v) => (v.status === "fulfilled" ? v.value : null));
      return { done: false, last: describe(candidates, answered) };
    });
  }

  /** Waits until `member` has applied everything the leader had committed when asked. */
  async caughtUp(member: string, leader: string, timeoutMs: number): Promise<void> {
    // The target is read inside the poll: a leader busy for one probe's deadline (a member
    // restarting beside it on two cores) is retried, not taken for a failed recovery.
    let target: number | null = null;
    await this.poll(`${member} to catch up with ${leader}`, timeoutMs, SETTLE_POLL_MS, async () => {
      target ??= (await this.probe(leader)).commit;
      const view = await this.probe(member);
      return view.applied >= target
        ? { done: true, value: undefined }
        : { done: false, last: `applied ${view.applied} of ${target}` };
    });
  }

  /** Waits until `member` answers its status at all (a restarted process is up). */
  async answering(member: string, timeoutMs: number): Promise<void> {
    await this.poll(`${member} to answer`, timeoutMs, SETTLE_POLL_MS, async () => {
      await this.probe(member);
      return { done: true, value: undefined };
    });
  }

  private async poll<T>(
    what: string,
    timeoutMs: number,
    intervalMs: number,
    attempt: () => Promise<{ done: true; value: T } | { done: false; last: string }>,
  ): Promise<T> {
    const deadline = this.clock.nowMs() + timeoutMs;
    let last = "nothing yet";
    for (;;) {
      try {
        const r = await attempt();
        if (r.done) return r.value;
        last = r.last;
      } catch (error) {
        last = (error as Error).message;
      }
      if (this.clock.nowMs() >= deadline) throw new WaitTimeout(what, timeoutMs, last);
      await sleep(this.clock, intervalMs);
    }
  }
}

function describe(ids: string[], views: (RaftView | null)[]): string {
  return ids
    .map((id, i) => {
      const v = views[i];
      return v ? `${id}: ${v.role} term ${v.term} leader ${v.leader}` : `${id}: no answer`;
    })
    .join("; ");
}
