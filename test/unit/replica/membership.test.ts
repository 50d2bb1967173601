import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { ConfState } from "../../../raft/core/messages.ts";
import type { SoftState } from "../../../raft/core/ready.ts";
import {
  Membership,
  type MembershipReplica,
  NotLeaderError,
} from "../../../raft/replica/membership.ts";

/** A leader replica whose learner n4 never reports progress; tests flip its role. */
function fakeLeader() {
  const soft: SoftState = { role: "leader", lead: "n1" };
  const conf: ConfState = {
    voters: ["n1", "n2", "n3"],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  const replica: MembershipReplica = {
    softState: () => soft,
    members: () => conf,
    // the learner is added as soon as it is proposed
    proposeConfChange: () => {
      conf.learners = ["n4"];
    },
    transferLeadership: () => {},
    status: () =>
      ({
        role: soft.role,
        leader: soft.lead,
        commit: 1_000,
        voters: conf.voters,
        learners: conf.learners,
        progress: soft.role === "leader" ? { n4: { match: 0 } } : {},
      }) as unknown as ReturnType<MembershipReplica["status"]>, // only the fields Membership reads
  };
  return { soft, replica };
}

describe("membership: adding a server", () => {
  it("a leader that loses the lead while its learner catches up says so at once, so the caller asks the new leader", async () => {
    const clock = new ManualClock();
    const { soft, replica } = fakeLeader();
    const membership = new Membership(replica, clock);
    const added = membership.add("n4", "127.0.0.14:7100");
    const outcome = added.then(
      () => "added",
      (error: unknown) => error,
    );
    for (let i = 0; i < 10; i++) {
      clock.advance(20);
      await Promise.resolve();
    }
    soft.role = "follower";
    soft.lead = "n2";
    for (let i = 0; i < 10; i++) {
      clock.advance(20);
      await new Promise((r) => setImmediate(r));
    }
    const result = await outcome;
    expect(result).toBeInstanceOf(NotLeaderError);
    expect((result as NotLeaderError).leader).toBe("n2");
    // well before the 60 s catch-up timeout
    expect(clock.nowMs()).toBeLessThan(1_000);
  });
});
