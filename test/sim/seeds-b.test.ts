import { describe } from "vitest";
import { sweepSeeds } from "./seed-range.ts";

// One of four seed sweeps (run in parallel by vitest): 500 seeds on 3 nodes.
describe("deterministic simulation, 3 nodes, seeds 1001..1500", () => {
  sweepSeeds(1001, 500, 3);
});
