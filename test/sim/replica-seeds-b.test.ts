import { describe } from "vitest";
import { sweepReplicaSeeds } from "./seed-range.ts";

// Whole servers (raft/sim/replica): one of two sweeps (run in parallel by vitest).
describe("replica simulation, seeds 1001..1040", () => {
  sweepReplicaSeeds(1001, 40);
});
