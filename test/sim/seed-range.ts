/**
 * Shared by the seed-sweep test files: runs a range of seeds in chunks (one vitest test per
 * chunk, so progress is visible and no single test runs long) and fails with the first failing
 * seed's full report — replay command and trace included.
 */
import { expect, it } from "vitest";
import { runReplicaSeed } from "../../raft/sim/replica/simulation.ts";
import { formatFailure, runSeed } from "../../raft/sim/simulator.ts";

/** Seeds per vitest test. */
const SEEDS_PER_CHUNK = 25;
/** Replica seeds cost several times a core seed: smaller chunks. */
const REPLICA_SEEDS_PER_CHUNK = 5;
/** Generous: a chunk takes a few seconds; this only stops a hung run. */
const CHUNK_TIMEOUT_MS = 300_000;

export function sweepSeeds(first: number, count: number, nodes: 3 | 5): void {
  for (let start = first; start < first + count; start += SEEDS_PER_CHUNK) {
    const end = Math.min(start + SEEDS_PER_CHUNK, first + count);
    it(
      `seeds ${start}..${end - 1} on ${nodes} nodes keep every invariant`,
      () => {
        for (let seed = start; seed < end; seed++) {
          const result = runSeed({ seed, nodes });
          if (!result.ok) expect.fail(formatFailure(result));
        }
      },
      CHUNK_TIMEOUT_MS,
    );
  }
}

/** The same for the replica simulation (whole servers); odd seeds on 3 nodes, even on 5. */
export function sweepReplicaSeeds(first: number, count: number): void {
  for (let start = first; start < first + count; start += REPLICA_SEEDS_PER_CHUNK) {
    const end = Math.min(start + REPLICA_SEEDS_PER_CHUNK, first + count);
    it(
      `replica seeds ${start}..${end - 1} keep every invariant, and every history is linearizable`,
      async () => {
        for (let seed = start; seed < end; seed++) {
          const result = await runReplicaSeed({ seed, nodes: seed % 2 === 0 ? 5 : 3 });
          if (!result.ok) expect.fail(formatFailure(result));
        }
      },
      CHUNK_TIMEOUT_MS,
    );
  }
}
