import { describe, expect, it } from "vitest";
import { REPLICA_MUTATIONS, type ReplicaMutation } from "../../raft/sim/replica/mutations.ts";
import type { ReplicaSimOptions } from "../../raft/sim/replica/options.ts";
import { type ReplicaSimResult, runReplicaSeed } from "../../raft/sim/replica/simulation.ts";
import { formatFailure } from "../../raft/sim/simulator.ts";

/** Generous: only stops a hung run (a seed takes about a second). */
const TIMEOUT_MS = 300_000;

const nodesFor = (seed: number) => (seed % 2 === 0 ? 5 : 3);

describe("the replica simulator itself", () => {
  it(
    "the same seed replays exactly: the same events and the same messages at the same times",
    async () => {
      const first = await runReplicaSeed({ seed: 3, nodes: 3 });
      const second = await runReplicaSeed({ seed: 3, nodes: 3 });
      if (!first.ok) expect.fail(formatFailure(first));
      expect(second.traceHash).toBe(first.traceHash);
      expect(second.stats).toEqual(first.stats);
      const other = await runReplicaSeed({ seed: 5, nodes: 3 });
      expect(other.traceHash).not.toBe(first.traceHash);
    },
    TIMEOUT_MS,
  );

  it(
    "a run reaches what the replica layer does under faults: follower reads, power losses, " +
      "leader changes during requests, snapshots sent to lagging followers",
    async () => {
      const total = {
        writesAcknowledged: 0,
        followerReads: 0,
        powerLosses: 0,
        unsyncedWritesLost: 0,
        leaderChangesDuringRequests: 0,
        snapshotsInstalled: 0,
      };
      for (let seed = 1; seed <= 4; seed++) {
        const r = await runReplicaSeed({ seed, nodes: nodesFor(seed) });
        if (!r.ok) expect.fail(formatFailure(r));
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r.stats[k];
      }
      expect(total.writesAcknowledged).toBeGreaterThan(100);
      expect(total.followerReads).toBeGreaterThan(50);
      expect(total.powerLosses).toBeGreaterThan(0);
      expect(total.unsyncedWritesLost).toBeGreaterThan(0);
      expect(total.leaderChangesDuringRequests).toBeGreaterThan(0);
      expect(total.snapshotsInstalled).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});

/**
 * Each planted bug (raft/sim/replica/mutations.ts) with the seeds it gets and what may report
 * it. Seeds run from 1 (odd seeds 3 servers, even 5) until one fails; the budget leaves room
 * above the first catching seed recorded in raft/sim/README.md.
 */
const PLANTED: {
  mutation: ReplicaMutation;
  seeds: number;
  caughtAs: string[];
  options?: Partial<ReplicaSimOptions>;
}[] = [
  { mutation: "read-release-off-by-3", seeds: 40, caughtAs: ["stale read", "linearizability"] },
  { mutation: "read-before-confirmed", seeds: 10, caughtAs: ["stale read", "linearizability"] },
  {
    mutation: "reproposal-without-session",
    seeds: 10,
    caughtAs: ["write applied twice", "proposal answered for another entry", "linearizability"],
  },
  {
    mutation: "snapshot-over-newer-state",
    seeds: 10,
    caughtAs: ["replica failed", "state machine safety", "acknowledged write lost"],
  },
  {
    mutation: "waiters-shifted-by-leader-noop",
    seeds: 20,
    caughtAs: ["proposal answered for another entry", "linearizability"],
  },
];

describe("planted bugs in the replica layer are caught", () => {
  it("every planted bug has a test", () => {
    expect(PLANTED.map((p) => p.mutation).sort()).toEqual(Object.keys(REPLICA_MUTATIONS).sort());
  });

  for (const { mutation, seeds, caughtAs, options } of PLANTED) {
    it(
      `${REPLICA_MUTATIONS[mutation]} (${mutation}): caught within ${seeds} seeds`,
      async () => {
        let caught: ReplicaSimResult | null = null;
        for (let seed = 1; seed <= seeds && caught === null; seed++) {
          const r = await runReplicaSeed({ seed, nodes: nodesFor(seed), mutation, ...options });
          if (!r.ok) caught = r;
        }
        expect(caught, `${mutation} not caught in ${seeds} seeds`).not.toBeNull();
        const failure = caught!.failure!;
        expect(caughtAs, formatFailure(caught!)).toContain(failure.property);
        expect(failure.replay).toBe(
          `npm run sim -- --replica --seed ${caught!.seed} --nodes ${caught!.nodes} --steps 3000 --mutation ${mutation}`,
        );
      },
      TIMEOUT_MS,
    );
  }
});
