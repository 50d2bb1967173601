/**
 * Properties of RFC 7386 merge patch and of strategic merge patch on list-free objects:
 * applying createMergePatch(a, b) to a gives b; without lists or directives SMP is a merge patch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../actors/api/json.ts";
import { applyMergePatch, createMergePatch } from "../../../actors/api/merge-patch.ts";
import { applyStrategicMergePatch } from "../../../actors/api/strategic-merge-patch.ts";

const memberKey = fc
  .string({ maxLength: 6 })
  .filter((k) => k !== "__proto__" && !k.startsWith("$"));
const scalar = fc.oneof(fc.boolean(), fc.integer(), fc.string({ maxLength: 5 }));

/** Any JSON value; `withNullMembers` decides whether objects may hold nulls. */
const json = (withNullMembers: boolean): fc.Arbitrary<JsonValue> =>
  fc.letrec<{ value: JsonValue; member: JsonValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      scalar,
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(memberKey, tie("member"), { maxKeys: 4 }),
    ),
    member: withNullMembers
      ? tie("value")
      : fc.oneof(
          { depthSize: "small" },
          scalar,
          fc.array(tie("value"), { maxLength: 3 }),
          fc.dictionary(memberKey, tie("member"), { maxKeys: 4 }),
        ),
  })).value;

/** Objects of objects and scalars only: what SMP treats exactly like a merge patch. */
const listFree = (withNulls: boolean): fc.Arbitrary<Record<string, JsonValue>> =>
  fc.letrec<{ obj: Record<string, JsonValue>; member: JsonValue }>((tie) => ({
    obj: fc.dictionary(memberKey, tie("member"), { maxKeys: 4 }),
    member: fc.oneof(
      { depthSize: "small" },
      ...(withNulls ? [fc.constant(null), scalar] : [scalar]),
      tie("obj"),
    ),
  })).obj;

describe("merge patch", () => {
  it("applyMergePatch(a, createMergePatch(a, b)) equals b", () => {
    fc.assert(
      fc.property(json(true), json(false), (a, b) => {
        expect(applyMergePatch(a, createMergePatch(a, b))).toEqual(b);
      }),
      { numRuns: 300 },
    );
  });

  it("applying a patch twice is the same as once (idempotence)", () => {
    fc.assert(
      fc.property(json(true), json(true), (a, p) => {
        const once = applyMergePatch(a, p);
        expect(applyMergePatch(once, p)).toEqual(once);
      }),
      { numRuns: 200 },
    );
  });
});

describe("strategic merge patch without lists or directives", () => {
  it("behaves like a JSON merge patch", () => {
    fc.assert(
      fc.property(listFree(false), listFree(true), (original, patch) => {
        expect(applyStrategicMergePatch(original, patch, "Pod")).toEqual(
          applyMergePatch(original, patch),
        );
      }),
      { numRuns: 300 },
    );
  });
});
