/** RFC 7386 JSON Merge Patch: the whole of Appendix A, and createMergePatch. */
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../actors/api/json.ts";
import { applyMergePatch, createMergePatch } from "../../../actors/api/merge-patch.ts";

describe("RFC 7386 Appendix A", () => {
  it.each<[JsonValue, JsonValue, JsonValue]>([
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [
      ["a", "b"],
      ["c", "d"],
      ["c", "d"],
    ],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])("%j patched with %j is %j", (target, patch, expected) => {
    expect(applyMergePatch(target, patch)).toEqual(expected);
  });
});

describe("createMergePatch", () => {
  it("sets changed members, nulls removed ones, and recurses into objects", () => {
    const a = {
      metadata: { labels: { app: "web", tier: "x" } },
      spec: { replicas: 1, paused: true },
    };
    const b = { metadata: { labels: { app: "web", env: "prod" } }, spec: { replicas: 3 } };
    const p = createMergePatch(a, b);
    expect(p).toEqual({
      metadata: { labels: { tier: null, env: "prod" } },
      spec: { replicas: 3, paused: null },
    });
    expect(applyMergePatch(a, p)).toEqual(b);
  });

  it("replaces arrays whole", () => {
    expect(createMergePatch({ l: [1, 2] }, { l: [2] })).toEqual({ l: [2] });
  });
});

describe("keys that are special in JavaScript", () => {
  it("__proto__ is an ordinary member, never the prototype", () => {
    const target = JSON.parse('{"a":1}') as JsonValue;
    const patch = JSON.parse('{"__proto__":{"polluted":true}}') as JsonValue;
    const out = applyMergePatch(target, patch) as Record<string, unknown>;
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: boolean }).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"a":1,"__proto__":{"polluted":true}}');
  });
});
