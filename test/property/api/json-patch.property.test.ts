/**
 * Property: a generated sequence of valid add/remove/replace operations, applied with
 * applyJsonPatch, gives what a direct path-based reference model computes; invalid operations
 * fail without touching the input.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isJsonObject, type JsonValue, jsonClone } from "../../../actors/api/json.ts";
import {
  applyJsonPatch,
  encodePointerToken,
  JsonPatchError,
} from "../../../actors/api/json-patch.ts";

// Keys include the characters JSON pointers must escape.
const key = fc.constantFrom("a", "b", "c", "x/y", "m~n", "~1", "", "0");
const leaf = fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    leaf,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(key, tie("v"), { maxKeys: 3 }),
  ),
})).v;
const doc = fc.dictionary(key, value, { maxKeys: 4 });

type Path = (string | number)[];

/** Every location in the document: [path, the value there]. */
function locations(v: JsonValue, path: Path = []): Array<[Path, JsonValue]> {
  const out: Array<[Path, JsonValue]> = [[path, v]];
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) out.push(...locations(x, [...path, i]));
  } else if (isJsonObject(v))
    for (const [k, x] of Object.entries(v)) out.push(...locations(x, [...path, k]));
  return out;
}

const pointer = (path: Path) => path.map((p) => `/${encodePointerToken(String(p))}`).join("");

function parentOf(root: JsonValue, path: Path): JsonValue {
  let cur = root;
  for (const p of path.slice(0, -1)) cur = (cur as Record<string | number, JsonValue>)[p]!;
  return cur;
}

/** The reference model: direct mutation at a path. */
function modelApply(
  root: JsonValue,
  op: "add" | "remove" | "replace",
  path: Path,
  v: JsonValue,
): void {
  // Appends (`/-`) are modelled by the caller; a value may itself be the string "-".
  const parent = parentOf(root, path);
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    if (op === "add") parent.splice(last as number, 0, v);
    else if (op === "remove") parent.splice(last as number, 1);
    else parent[last as number] = v;
  } else {
    const o = parent as Record<string, JsonValue>;
    if (op === "remove") delete o[last as string];
    else o[last as string] = v;
  }
}

interface Intent {
  op: "add" | "remove" | "replace";
  pick: number;
  key: string;
  index: number;
  append: boolean;
  value: JsonValue;
}

const intent: fc.Arbitrary<Intent> = fc.record({
  op: fc.constantFrom("add" as const, "remove" as const, "replace" as const),
  pick: fc.nat(),
  key,
  index: fc.nat(),
  append: fc.boolean(),
  value,
});

describe("JSON patch against a reference model", () => {
  it("add/remove/replace sequences agree with the model", () => {
    fc.assert(
      fc.property(doc, fc.array(intent, { maxLength: 8 }), (start, intents) => {
        const model = jsonClone(start) as JsonValue;
        const ops: unknown[] = [];
        for (const it of intents) {
          const locs = locations(model);
          if (it.op === "add") {
            const containers = locs.filter(([, v]) => Array.isArray(v) || isJsonObject(v));
            const [path, target] = containers[it.pick % containers.length]!;
            if (Array.isArray(target)) {
              if (it.append) {
                ops.push({ op: "add", path: `${pointer(path)}/-`, value: it.value });
                target.push(jsonClone(it.value));
              } else {
                const i = it.index % (target.length + 1);
                ops.push({ op: "add", path: pointer([...path, i]), value: it.value });
                modelApply(model, "add", [...path, i], jsonClone(it.value));
              }
            } else {
              ops.push({ op: "add", path: pointer([...path, it.key]), value: it.value });
              modelApply(model, "add", [...path, it.key], jsonClone(it.value));
            }
          } else {
            const inner = locs.filter(([p]) => p.length > 0);
            if (inner.length === 0) continue;
            const [path] = inner[it.pick % inner.length]!;
            if (it.op === "remove") ops.push({ op: "remove", path: pointer(path) });
            else ops.push({ op: "replace", path: pointer(path), value: it.value });
            modelApply(model, it.op, path, jsonClone(it.value));
          }
        }
        const before = JSON.stringify(start);
        expect(applyJsonPatch(start, ops)).toEqual(model);
        expect(JSON.stringify(start)).toBe(before);
      }),
      {
        numRuns: 300,
        examples: [
          [
            {},
            [
              { op: "add", pick: 0, key: "a", index: 0, append: false, value: [] },
              { op: "add", pick: 409156431, key: "a", index: 0, append: false, value: "-" },
            ],
          ],
        ],
      },
    );
  });

  it("removing or replacing a missing member fails and leaves the input alone", () => {
    fc.assert(
      fc.property(doc, fc.constantFrom("remove", "replace"), (start, op) => {
        const missing = "definitely-missing";
        const before = JSON.stringify(start);
        expect(() => applyJsonPatch(start, [{ op, path: `/${missing}`, value: 1 }])).toThrow(
          JsonPatchError,
        );
        expect(JSON.stringify(start)).toBe(before);
      }),
      { numRuns: 100 },
    );
  });
});
