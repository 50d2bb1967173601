import { describe } from "vitest";
import { sweepSeeds } from "./seed-range.ts";

// One of four seed sweeps (run in parallel by vitest): 500 seeds on 5 nodes.
describe("deterministic simulation, 5 nodes, seeds 3001..3500", () => {
  sweepSeeds(3001, 500, 5);
});
