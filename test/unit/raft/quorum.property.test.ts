/** Quorum arithmetic (Raft §5.3 commit rule, §6 joint consensus) as properties. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  jointCommittedIndex,
  jointVoteResult,
  majorityCommittedIndex,
  majorityVoteResult,
  UNBOUNDED_INDEX,
} from "../../../raft/core/quorum.ts";

const voterSet = fc.uniqueArray(
  fc.integer({ min: 1, max: 9 }).map((i) => `n${i}`),
  { minLength: 1, maxLength: 7 },
);

describe("majority commit index", () => {
  it("is the (n/2+1)-th largest acknowledged index: a majority has it, and no larger index has a majority", () => {
    fc.assert(
      fc.property(voterSet, fc.array(fc.nat(100), { minLength: 7, maxLength: 7 }), (ids, idx) => {
        const acked = new Map(ids.map((id, i) => [id, idx[i]!]));
        const ci = majorityCommittedIndex(new Set(ids), (id) => acked.get(id));
        const sortedDesc = [...acked.values()].sort((a, b) => b - a);
        expect(ci).toBe(sortedDesc[Math.floor(ids.length / 2)]);
        const atLeast = (v: number) => [...acked.values()].filter((x) => x >= v).length;
        const q = Math.floor(ids.length / 2) + 1;
        expect(atLeast(ci)).toBeGreaterThanOrEqual(q);
        expect(atLeast(ci + 1)).toBeLessThan(q);
      }),
    );
  });

  it("counts a voter with no acknowledgement as 0", () => {
    expect(
      majorityCommittedIndex(new Set(["a", "b", "c"]), (id) => (id === "a" ? 5 : undefined)),
    ).toBe(0);
    expect(
      majorityCommittedIndex(new Set(["a", "b", "c"]), (id) => (id === "c" ? undefined : 5)),
    ).toBe(5);
  });

  it("an empty configuration does not constrain (so a joint config with no outgoing half is the incoming one)", () => {
    expect(majorityCommittedIndex(new Set(), () => 0)).toBe(UNBOUNDED_INDEX);
  });
});

describe("joint commit index", () => {
  it("is the minimum of both halves' majority commit indexes", () => {
    fc.assert(
      fc.property(
        voterSet,
        voterSet,
        fc.dictionary(
          fc.constantFrom(...Array.from({ length: 9 }, (_, i) => `n${i + 1}`)),
          fc.nat(50),
        ),
        (inc, out, acks) => {
          const acked = (id: string) => acks[id];
          const j = jointCommittedIndex([new Set(inc), new Set(out)], acked);
          expect(j).toBe(
            Math.min(
              majorityCommittedIndex(new Set(inc), acked),
              majorityCommittedIndex(new Set(out), acked),
            ),
          );
          expect(jointCommittedIndex([new Set(inc), new Set()], acked)).toBe(
            majorityCommittedIndex(new Set(inc), acked),
          );
        },
      ),
    );
  });
});

describe("vote results", () => {
  it("majority: won iff yes >= q; lost iff yes + missing < q", () => {
    fc.assert(
      fc.property(
        voterSet,
        fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), {
          minLength: 7,
          maxLength: 7,
        }),
        (ids, vs) => {
          const votes = new Map<string, boolean>();
          ids.forEach((id, i) => {
            const v = vs[i];
            if (v !== undefined) votes.set(id, v);
          });
          const yes = [...votes.values()].filter(Boolean).length;
          const missing = ids.length - votes.size;
          const q = Math.floor(ids.length / 2) + 1;
          const expected = yes >= q ? "won" : yes + missing >= q ? "pending" : "lost";
          expect(majorityVoteResult(new Set(ids), votes)).toBe(expected);
        },
      ),
    );
  });

  it("joint: won only if both halves win; lost if either loses", () => {
    const votes = new Map([
      ["n1", true],
      ["n2", true],
      ["n4", false],
      ["n5", false],
    ]);
    const old = new Set(["n1", "n2", "n3"]);
    expect(jointVoteResult([old, new Set()], votes)).toBe("won");
    expect(jointVoteResult([new Set(["n1", "n4", "n5"]), old], votes)).toBe("lost");
    expect(jointVoteResult([new Set(["n1", "n3", "n6"]), old], votes)).toBe("pending");
  });
});
