import { describe, expect, it } from "vitest";
import { SeededRandom } from "../../../actors/system/random.ts";
import {
  decide,
  type FaultRule,
  FaultRuleError,
  parseFaultRules,
} from "../../../transport/faults.ts";

const rng = (seed = 7) => {
  const r = new SeededRandom(seed);
  return () => r.next();
};

/** Fraction of `n` decisions that deliver `copies` copies. */
function rate(rules: FaultRule[], copies: number, n = 10_000): number {
  const random = rng();
  let hits = 0;
  for (let i = 0; i < n; i++) if (decide(rules, "n2", "out", random).deliver === copies) hits++;
  return hits / n;
}

describe("fault decisions", () => {
  it("delivers one copy, undelayed, with no rules", () => {
    expect(decide([], "n2", "out", rng())).toEqual({ deliver: 1, delayMs: 0 });
  });

  it("partitions both ways by default, or one way when a direction is named", () => {
    const both: FaultRule[] = [{ type: "partition", peer: "n2" }];
    expect(decide(both, "n2", "out", rng()).deliver).toBe(0);
    expect(decide(both, "n2", "in", rng()).deliver).toBe(0);
    expect(decide(both, "n3", "out", rng()).deliver).toBe(1);
    const oneWay: FaultRule[] = [{ type: "partition", peer: "n2", direction: "out" }];
    expect(decide(oneWay, "n2", "out", rng()).deliver).toBe(0);
    expect(decide(oneWay, "n2", "in", rng()).deliver).toBe(1);
  });

  it("applies a rule without a peer to every peer (isolation)", () => {
    const isolate: FaultRule[] = [{ type: "partition" }];
    expect(decide(isolate, "n2", "in", rng()).deliver).toBe(0);
    expect(decide(isolate, "n9", "out", rng()).deliver).toBe(0);
  });

  it("drops and duplicates at about the configured rate", () => {
    expect(rate([{ type: "drop", probability: 0.3 }], 0)).toBeCloseTo(0.3, 1);
    expect(rate([{ type: "duplicate", probability: 0.25 }], 2)).toBeCloseTo(0.25, 1);
    expect(rate([{ type: "drop", probability: 1 }], 0)).toBe(1);
    expect(rate([{ type: "drop", probability: 0 }], 1)).toBe(1);
  });

  it("delays by ms plus up to jitterMs", () => {
    const random = rng();
    const rules: FaultRule[] = [{ type: "delay", ms: 100, jitterMs: 50 }];
    const delays = Array.from({ length: 200 }, () => decide(rules, "n2", "in", random).delayMs);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(150);
    expect(new Set(delays).size).toBeGreaterThan(10);
    expect(decide([{ type: "delay", ms: 30 }], "n2", "out", rng())).toEqual({
      deliver: 1,
      delayMs: 30,
    });
  });

  it("replays exactly from the same seed", () => {
    const rules: FaultRule[] = [
      { type: "drop", probability: 0.2 },
      { type: "duplicate", probability: 0.2 },
      { type: "delay", ms: 5, jitterMs: 20 },
    ];
    const run = (seed: number) => {
      const random = rng(seed);
      return Array.from({ length: 100 }, () => decide(rules, "n2", "out", random));
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });
});

describe("fault rule validation", () => {
  it("accepts well-formed rules", () => {
    const rules = [
      { type: "drop", probability: 0.1, peer: "n2" },
      { type: "delay", ms: 10, jitterMs: 5, direction: "in" },
      { type: "duplicate", probability: 1 },
      { type: "partition", peer: "n3", direction: "both" },
    ];
    expect(parseFaultRules(rules)).toEqual(rules);
    expect(parseFaultRules([])).toEqual([]);
  });

  it.each([
    [{}, "fault rules must be an array"],
    [[null], "rules[0] must be an object"],
    [[{ type: "explode" }], "rules[0].type must be drop, delay, duplicate or partition"],
    [[{ type: "drop", probability: 1.5 }], "rules[0].probability must be a number in [0, 1]"],
    [[{ type: "drop", probability: "0.5" }], "rules[0].probability must be a number in [0, 1]"],
    [
      [{ type: "partition" }, { type: "delay", ms: -1 }],
      "rules[1].ms must be an integer number of ms in [0, 60000]",
    ],
    [[{ type: "partition", direction: "sideways" }], "rules[0].direction must be out, in or both"],
    [[{ type: "partition", peer: "" }], "rules[0].peer must be a non-empty node id"],
    [[{ type: "partition", probability: 1 }], "rules[0]: unknown field 'probability'"],
  ])("rejects %j with a clear error", (input, message) => {
    expect(() => parseFaultRules(input)).toThrow(FaultRuleError);
    expect(() => parseFaultRules(input)).toThrow(message);
  });

  it("bounds the number of rules", () => {
    expect(() => parseFaultRules(Array(65).fill({ type: "partition" }))).toThrow(/at most 64/);
  });
});
