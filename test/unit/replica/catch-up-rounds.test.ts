import { describe, expect, it } from "vitest";
import { CatchUpRounds } from "../../../raft/replica/catch-up-rounds.ts";

const limits = { roundMs: 1_000, caughtUpLagEntries: 10 };

describe("Raft thesis §4.2.1: a new server catches up in rounds before it votes", () => {
  it("an idle cluster: a learner within the small lag is caught up at once", () => {
    const rounds = new CatchUpRounds(limits, 100, 0);
    expect(rounds.observe(95, 100, 10)).toBe(true);
  });

  it("a learner still short of its round's target is not caught up, however long it takes", () => {
    const rounds = new CatchUpRounds(limits, 10_000, 0);
    expect(rounds.observe(5_000, 10_500, 500)).toBe(false);
    expect(rounds.observe(9_999, 11_000, 5_000)).toBe(false);
    expect(rounds.rounds).toBe(1);
  });

  it("a round that took longer than an election timeout starts another, aimed at the commit index then", () => {
    const rounds = new CatchUpRounds(limits, 10_000, 0);
    expect(rounds.observe(10_000, 12_000, 3_000)).toBe(false);
    expect(rounds.rounds).toBe(2);
    // the second round's target is 12,000: reaching 11,000 is not enough
    expect(rounds.observe(11_000, 12_500, 3_400)).toBe(false);
    // reaching it within the round limit ends the catching up, though the lag is above 10
    expect(rounds.observe(12_000, 12_900, 3_800)).toBe(true);
  });

  it("under a steady load, a learner that keeps pace qualifies although it is never within the small lag", () => {
    // commit grows 1,000 entries/s; the learner trails by 200 entries (its pipeline's worth)
    const rounds = new CatchUpRounds(limits, 5_000, 0);
    let caughtUp = false;
    for (let t = 100; t <= 10_000 && !caughtUp; t += 100) {
      const commit = 5_000 + t;
      caughtUp = rounds.observe(commit - 200, commit, t);
    }
    expect(caughtUp).toBe(true);
  });

  it("a learner that falls further behind each round never qualifies", () => {
    const rounds = new CatchUpRounds(limits, 1_000, 0);
    let caughtUp = false;
    for (let t = 100; t <= 60_000 && !caughtUp; t += 100) {
      // writes come at 1,000 entries/s; the learner, empty at first, replicates 500/s
      caughtUp = rounds.observe(t / 2, 1_000 + t, t);
    }
    expect(caughtUp).toBe(false);
    expect(rounds.rounds).toBeGreaterThan(3);
  });
});
