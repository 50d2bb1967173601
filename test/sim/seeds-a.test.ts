import { describe } from "vitest";
import { sweepSeeds } from "./seed-range.ts";

// One of four seed sweeps (run in parallel by vitest): 250 seeds on 3 nodes.
describe("deterministic simulation, 3 nodes, seeds 1..250", () => {
  sweepSeeds(1, 250, 3);
});
