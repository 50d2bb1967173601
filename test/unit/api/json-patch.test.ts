/**
 * RFC 6902 JSON Patch: every example of the RFC's Appendix A that is about semantics (A.13 is
 * about duplicate JSON members, which JSON.parse already resolved), plus the error texts
 * evanphx/json-patch returns through the Kubernetes API server.
 */
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../actors/api/json.ts";
import {
  applyJsonPatch,
  decodePointerToken,
  encodePointerToken,
  JsonPatchError,
  MAX_JSON_PATCH_OPERATIONS,
} from "../../../actors/api/json-patch.ts";

const apply = (doc: unknown, patch: unknown) => applyJsonPatch(doc as JsonValue, patch);

describe("RFC 6902 Appendix A", () => {
  it.each([
    [
      "A.1 adding an object member",
      { foo: "bar" },
      [{ op: "add", path: "/baz", value: "qux" }],
      { baz: "qux", foo: "bar" },
    ],
    [
      "A.2 adding an array element",
      { foo: ["bar", "baz"] },
      [{ op: "add", path: "/foo/1", value: "qux" }],
      { foo: ["bar", "qux", "baz"] },
    ],
    [
      "A.3 removing an object member",
      { baz: "qux", foo: "bar" },
      [{ op: "remove", path: "/baz" }],
      { foo: "bar" },
    ],
    [
      "A.4 removing an array element",
      { foo: ["bar", "qux", "baz"] },
      [{ op: "remove", path: "/foo/1" }],
      { foo: ["bar", "baz"] },
    ],
    [
      "A.5 replacing a value",
      { baz: "qux", foo: "bar" },
      [{ op: "replace", path: "/baz", value: "boo" }],
      { baz: "boo", foo: "bar" },
    ],
    [
      "A.6 moving a value",
      { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
      { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
    ],
    [
      "A.7 moving an array element",
      { foo: ["all", "grass", "cows", "eat"] },
      [{ op: "move", from: "/foo/1", path: "/foo/3" }],
      { foo: ["all", "cows", "eat", "grass"] },
    ],
    [
      "A.8 testing a value: success",
      { baz: "qux", foo: ["a", 2, "c"] },
      [
        { op: "test", path: "/baz", value: "qux" },
        { op: "test", path: "/foo/1", value: 2 },
      ],
      { baz: "qux", foo: ["a", 2, "c"] },
    ],
    [
      "A.10 adding a nested member object",
      { foo: "bar" },
      [{ op: "add", path: "/child", value: { grandchild: {} } }],
      { foo: "bar", child: { grandchild: {} } },
    ],
    [
      "A.11 ignoring unrecognized elements",
      { foo: "bar" },
      [{ op: "add", path: "/baz", value: "qux", xyz: 123 }],
      { foo: "bar", baz: "qux" },
    ],
    [
      "A.14 ~ escape ordering",
      { "/": 9, "~1": 10 },
      [{ op: "test", path: "/~01", value: 10 }],
      { "/": 9, "~1": 10 },
    ],
    [
      "A.16 adding an array value",
      { foo: ["bar"] },
      [{ op: "add", path: "/foo/-", value: ["abc", "def"] }],
      { foo: ["bar", ["abc", "def"]] },
    ],
  ])("%s", (_name, doc, patch, expected) => {
    expect(apply(doc, patch)).toEqual(expected);
  });

  it("A.9 testing a value: error", () => {
    expect(() => apply({ baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }])).toThrow(
      "testing value /baz failed: test failed",
    );
  });

  it("A.12 adding to a nonexistent target", () => {
    expect(() => apply({ foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }])).toThrow(
      'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    );
  });

  it("A.15 comparing strings and numbers", () => {
    expect(() => apply({ "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: "10" }])).toThrow(
      "testing value /~01 failed: test failed",
    );
  });
});

describe("evanphx/json-patch behaviour the API server exposes", () => {
  it("never mutates the input document", () => {
    const doc = { a: { b: [1] } };
    apply(doc, [{ op: "add", path: "/a/b/-", value: 2 }]);
    expect(doc).toEqual({ a: { b: [1] } });
  });

  it("applies operations in order and aborts the whole patch on the first failure", () => {
    expect(() =>
      apply({ a: 1 }, [
        { op: "replace", path: "/a", value: 2 },
        { op: "remove", path: "/zzz" },
      ]),
    ).toThrow(
      "error in remove for path: '/zzz': Unable to remove nonexistent key: zzz: missing value",
    );
  });

  it.each([
    [
      [{ op: "replace", path: "/x", value: 1 }],
      "replace operation does not apply: doc is missing key: /x: missing value",
    ],
    [
      [{ op: "replace", path: "/x/y", value: 1 }],
      "replace operation does not apply: doc is missing path: /x/y: missing value",
    ],
    [
      [{ op: "add", path: "/list/5", value: 1 }],
      "error in add for path: '/list/5': Unable to access invalid index: 5: invalid index referenced",
    ],
    [[{ op: "add", path: "/list/x", value: 1 }], "value was not a proper array index: 'x'"],
    [
      [{ op: "remove", path: "/list/9" }],
      "Unable to access invalid index: 9: invalid index referenced",
    ],
    [
      [{ op: "move", from: "/nope", path: "/a" }],
      "error in move for path: 'nope': unable to get nonexistent key: nope: missing value",
    ],
    [
      [{ op: "copy", from: "/a/b", path: "/c" }],
      "copy operation does not apply: doc is missing from path: /a/b: missing value",
    ],
    [[{ op: "frobnicate", path: "/a" }], "Unexpected kind: frobnicate"],
    [[{ path: "/a" }], "Unexpected kind: unknown"],
    [[{ op: "add", value: 1 }], "add operation failed to decode path: missing value"],
  ])("%j fails with evanphx's message", (patch, message) => {
    let err: unknown;
    try {
      apply({ list: [1, 2] }, patch);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonPatchError);
    expect((err as JsonPatchError).kind).toBe("apply");
    expect((err as JsonPatchError).message).toContain(message);
  });

  it("copy deep-copies, so later changes do not alias", () => {
    const out = apply({ a: { x: 1 } }, [
      { op: "copy", from: "/a", path: "/b" },
      { op: "replace", path: "/b/x", value: 2 },
    ]);
    expect(out).toEqual({ a: { x: 1 }, b: { x: 2 } });
  });

  it("replace at the root swaps the document; add at the root is not supported (evanphx v4)", () => {
    expect(apply({ a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }])).toEqual({ b: 2 });
    expect(() => apply({ a: 1 }, [{ op: "add", path: "", value: {} }])).toThrow(
      "doc is missing path",
    );
  });

  it("negative indices count from the end, as Go's SupportNegativeIndices allows", () => {
    expect(apply({ l: [1, 2, 3] }, [{ op: "remove", path: "/l/-1" }])).toEqual({ l: [1, 2] });
  });

  it("a body that is not a list of operations is a decode error (400)", () => {
    expect(() => apply({}, { op: "add" })).toThrow(JsonPatchError);
    try {
      apply({}, { op: "add" });
    } catch (e) {
      expect((e as JsonPatchError).kind).toBe("decode");
      expect((e as JsonPatchError).message).toBe(
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
      );
    }
  });

  it("more than 10000 operations is refused as too large (413)", () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({
      op: "test",
      path: "",
      value: {},
    }));
    try {
      apply({}, ops);
      expect.unreachable();
    } catch (e) {
      expect((e as JsonPatchError).kind).toBe("tooLarge");
    }
  });

  it("pointer tokens escape ~ and / (RFC 6901 §4)", () => {
    expect(encodePointerToken("a/b~c")).toBe("a~1b~0c");
    expect(decodePointerToken("a~1b~0c")).toBe("a/b~c");
    expect(decodePointerToken("~01")).toBe("~1");
    expect(
      apply({ "a/b": { "m~n": 1 } }, [{ op: "replace", path: "/a~1b/m~0n", value: 2 }]),
    ).toEqual({
      "a/b": { "m~n": 2 },
    });
  });
});

describe("keys that are special in JavaScript", () => {
  it("adding /__proto__ stores a member instead of changing the prototype", () => {
    const out = apply({}, [{ op: "add", path: "/__proto__", value: { polluted: true } }]) as Record<
      string,
      unknown
    >;
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect((out as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
