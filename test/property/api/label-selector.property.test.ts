/** Property: a canonical label selector survives printing and parsing (labels.Parse / String). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type LabelSelector,
  matches,
  parseLabelSelector,
  type Requirement,
  selectorToString,
} from "../../../actors/api/label-selector.ts";

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
const chars = (alphabet: string, min: number, max: number) =>
  fc
    .array(fc.constantFrom(...alphabet.split("")), { minLength: min, maxLength: max })
    .map((a) => a.join(""));

/** Qualified-name shaped: alnum ends, `-_.` inside. */
const namePart = fc
  .tuple(chars(alnum, 1, 1), chars(`${alnum}-_.`, 0, 10), chars(alnum, 1, 1))
  .map(([a, b, c]) => a + b + c);
const dnsLabel = fc
  .tuple(chars(lowerAlnum, 1, 1), chars(`${lowerAlnum}-`, 0, 6), chars(lowerAlnum, 1, 1))
  .map(([a, b, c]) => a + b + c);
const key = fc.oneof(
  namePart,
  fc
    .tuple(fc.array(dnsLabel, { minLength: 1, maxLength: 3 }), namePart)
    .map(([d, n]) => `${d.join(".")}/${n}`),
  fc.constantFrom("in", "notin"),
);
const value = fc.oneof(fc.constant(""), namePart, fc.constantFrom("in", "notin"));

const sortedUnique = (xs: string[]) =>
  [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

const requirementFor = (k: string): fc.Arbitrary<Requirement> =>
  fc.oneof(
    fc.record({
      key: fc.constant(k),
      operator: fc.constantFrom("=" as const, "==" as const, "!=" as const),
      values: value.map((v) => [v]),
    }),
    fc.record({
      key: fc.constant(k),
      operator: fc.constantFrom("in" as const, "notin" as const),
      values: fc.array(value, { minLength: 1, maxLength: 4 }).map(sortedUnique),
    }),
    fc.record({
      key: fc.constant(k),
      operator: fc.constantFrom("exists" as const, "!" as const),
      values: fc.constant([]),
    }),
    fc.record({
      key: fc.constant(k),
      operator: fc.constantFrom("gt" as const, "lt" as const),
      values: fc.nat({ max: 1_000_000_000 }).map((n) => [String(n)]),
    }),
  );

const selector: fc.Arbitrary<LabelSelector> = fc
  .uniqueArray(key, { maxLength: 5 })
  .map(sortedUnique)
  .chain((keys) => fc.tuple(...keys.map(requirementFor)))
  .map((requirements) => ({ requirements }));

describe("label selector round trip", () => {
  it("parse(toString(s)) equals s", () => {
    fc.assert(
      fc.property(selector, (s) => {
        expect(parseLabelSelector(selectorToString(s))).toEqual(s);
      }),
      { numRuns: 300 },
    );
  });

  it("printing is stable and matching agrees after a round trip", () => {
    const labels = fc.dictionary(key, value, { maxKeys: 5 });
    fc.assert(
      fc.property(selector, labels, (s, ls) => {
        const again = parseLabelSelector(selectorToString(s));
        expect(selectorToString(again)).toBe(selectorToString(s));
        expect(matches(again, ls)).toBe(matches(s, ls));
      }),
      { numRuns: 200 },
    );
  });
});
