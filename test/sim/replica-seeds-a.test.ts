import { describe } from "vitest";
import { sweepReplicaSeeds } from "./seed-range.ts";

// Whole servers (raft/sim/replica): the Replica, the MVCC store and StoreClients under faults,
// reads at followers as well as leaders. One of two sweeps (run in parallel by vitest). Longer
// runs: `npm run sim -- --replica --seeds N --jobs 2`.
describe("replica simulation, seeds 1..40", () => {
  sweepReplicaSeeds(1, 40);
});
