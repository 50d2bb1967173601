/**
 * RFC 6902 JSON Patch as the Kubernetes API server applies it (`application/json-patch+json`,
 * through evanphx/json-patch v4): JSON pointers per RFC 6901 (`~1` is `/`, `~0` is `~`), `-`
 * appends to an array, operations apply in order and the first failure aborts the whole patch.
 * Error texts are evanphx's, which the API server passes through: a patch that does not decode
 * is a 400, one that does not apply is a 422, more than 10000 operations a 413.
 *
 * Quirks kept on purpose because Kubernetes has them: array indices parse like Go's
 * `strconv.Atoi` (a sign and leading zeros are accepted) and negative indices count from the end.
 */
import {
  isJsonObject,
  type JsonObject,
  type JsonValue,
  jsonClone,
  jsonEqual,
  setMember,
} from "./json.ts";

/** The API server refuses JSON patches with more operations than this (413). */
export const MAX_JSON_PATCH_OPERATIONS = 10_000;

export type JsonPatchOperation =
  | { op: "add"; path: string; value: JsonValue }
  | { op: "remove"; path: string }
  | { op: "replace"; path: string; value: JsonValue }
  | { op: "move"; from: string; path: string }
  | { op: "copy"; from: string; path: string }
  | { op: "test"; path: string; value: JsonValue };

/** `decode`: 400 BadRequest; `apply`: 422 Invalid; `tooLarge`: 413. */
export type JsonPatchErrorKind = "decode" | "apply" | "tooLarge";

export class JsonPatchError extends Error {
  override name = "JsonPatchError";
  constructor(
    message: string,
    readonly kind: JsonPatchErrorKind,
  ) {
    super(message);
  }
}

const MISSING = "missing value";
const INVALID_INDEX = "invalid index referenced";
const TEST_FAILED = "test failed";

class ApplyError extends Error {}

/** RFC 6901 §4: decode `~1` before `~0`, in one left-to-right pass. */
export function decodePointerToken(token: string): string {
  return token.replace(/~[01]/g, (m) => (m === "~1" ? "/" : "~"));
}

export function encodePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Go's strconv.Atoi, with its error text. */
function atoi(key: string): number {
  if (!/^[+-]?[0-9]+$/.test(key))
    throw new ApplyError(`strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`);
  const n = Number(key);
  if (!Number.isSafeInteger(n))
    throw new ApplyError(`strconv.Atoi: parsing ${JSON.stringify(key)}: value out of range`);
  return n;
}

type Container = JsonObject | JsonValue[];

function containerGet(con: Container, key: string): JsonValue {
  if (Array.isArray(con)) {
    let idx = atoi(key);
    if (idx < 0) {
      if (idx < -con.length)
        throw new ApplyError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
      idx += con.length;
    }
    if (idx >= con.length)
      throw new ApplyError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
    return con[idx]!;
  }
  if (!Object.hasOwn(con, key))
    throw new ApplyError(`unable to get nonexistent key: ${key}: ${MISSING}`);
  return con[key]!;
}

function containerSet(con: Container, key: string, value: JsonValue): void {
  if (Array.isArray(con)) {
    let idx = atoi(key);
    if (idx < 0) idx += con.length;
    con[idx] = value;
  } else {
    setMember(con, key, value);
  }
}

function containerAdd(con: Container, key: string, value: JsonValue): void {
  if (!Array.isArray(con)) {
    setMember(con, key, value);
    return;
  }
  if (key === "-") {
    con.push(value);
    return;
  }
  let idx: number;
  try {
    idx = atoi(key);
  } catch (e) {
    throw new ApplyError(`value was not a proper array index: '${key}': ${(e as Error).message}`);
  }
  const size = con.length + 1;
  if (idx >= size) throw new ApplyError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
  if (idx < 0) {
    if (idx < -size)
      throw new ApplyError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
    idx += size;
  }
  con.splice(idx, 0, value);
}

function containerRemove(con: Container, key: string): void {
  if (!Array.isArray(con)) {
    if (!Object.hasOwn(con, key))
      throw new ApplyError(`Unable to remove nonexistent key: ${key}: ${MISSING}`);
    delete con[key];
    return;
  }
  let idx = atoi(key);
  if (idx >= con.length)
    throw new ApplyError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
  if (idx < 0) {
    if (idx < -con.length)
      throw new ApplyError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
    idx += con.length;
  }
  con.splice(idx, 1);
}

/**
 * evanphx `findObject`: walk every token but the last; the parent must exist and be a
 * container. Returns undefined when it does not ("doc is missing path").
 */
function findParent(doc: JsonValue, path: string): { con: Container; key: string } | undefined {
  const split = path.split("/");
  if (split.length < 2) return undefined;
  let cur: JsonValue = doc;
  for (const part of split.slice(1, -1)) {
    if (!Array.isArray(cur) && !isJsonObject(cur)) return undefined;
    let next: JsonValue;
    try {
      next = containerGet(cur, decodePointerToken(part));
    } catch {
      return undefined;
    }
    if (next === null) return undefined;
    cur = next;
  }
  if (!Array.isArray(cur) && !isJsonObject(cur)) return undefined;
  return { con: cur, key: decodePointerToken(split[split.length - 1]!) };
}

function wrap(prefix: string, e: unknown): ApplyError {
  return new ApplyError(`${prefix}: ${(e as Error).message}`);
}

function stringField(op: JsonObject, name: string, opName: string, what: string): string {
  const v = op[name];
  if (typeof v === "string") return v;
  throw new ApplyError(`${opName} operation failed to decode ${what}: ${MISSING}`);
}

/** Checks the shape of a decoded patch body: an array of operation objects. */
export function decodeJsonPatch(body: unknown): JsonObject[] {
  if (!Array.isArray(body)) {
    const t = body === null ? "null" : Array.isArray(body) ? "array" : typeof body;
    throw new JsonPatchError(
      `json: cannot unmarshal ${t === "object" ? "object" : t === "string" ? "string" : t === "number" ? "number" : t} into Go value of type jsonpatch.Patch`,
      "decode",
    );
  }
  for (const op of body) {
    if (!isJsonObject(op))
      throw new JsonPatchError(
        "json: cannot unmarshal non-object into Go value of type jsonpatch.Operation",
        "decode",
      );
  }
  if (body.length > MAX_JSON_PATCH_OPERATIONS)
    throw new JsonPatchError(
      `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${body.length}`,
      "tooLarge",
    );
  return body as JsonObject[];
}

/**
 * Applies a JSON patch to a copy of `doc` and returns the result; `doc` is never mutated.
 * Throws JsonPatchError (kind "decode" / "apply" / "tooLarge").
 */
export function applyJsonPatch(doc: JsonValue, patch: unknown): JsonValue {
  const ops = decodeJsonPatch(patch);
  const holder = { doc: jsonClone(doc) };
  for (const op of ops) {
    try {
      applyOperation(holder, op);
    } catch (e) {
      if (e instanceof ApplyError) throw new JsonPatchError(e.message, "apply");
      throw e;
    }
  }
  return holder.doc;
}

function applyOperation(holder: { doc: JsonValue }, op: JsonObject): void {
  const kind = typeof op.op === "string" ? op.op : "unknown";
  const value = op.value === undefined ? null : jsonClone(op.value);
  switch (kind) {
    case "add": {
      const path = stringField(op, "path", "add", "path");
      const found = findParent(holder.doc, path);
      if (!found)
        throw new ApplyError(
          `add operation does not apply: doc is missing path: "${path}": ${MISSING}`,
        );
      try {
        containerAdd(found.con, found.key, value);
      } catch (e) {
        throw wrap(`error in add for path: '${path}'`, e);
      }
      return;
    }
    case "remove": {
      const path = stringField(op, "path", "remove", "path");
      const found = findParent(holder.doc, path);
      if (!found)
        throw new ApplyError(
          `remove operation does not apply: doc is missing path: "${path}": ${MISSING}`,
        );
      try {
        containerRemove(found.con, found.key);
      } catch (e) {
        throw wrap(`error in remove for path: '${path}'`, e);
      }
      return;
    }
    case "replace": {
      const path = stringField(op, "path", "replace", "path");
      if (path === "") {
        if (!Array.isArray(value) && !isJsonObject(value))
          throw new ApplyError("replace operation value must be object or array");
        holder.doc = value;
        return;
      }
      const found = findParent(holder.doc, path);
      if (!found)
        throw new ApplyError(
          `replace operation does not apply: doc is missing path: ${path}: ${MISSING}`,
        );
      try {
        containerGet(found.con, found.key);
      } catch {
        throw new ApplyError(
          `replace operation does not apply: doc is missing key: ${path}: ${MISSING}`,
        );
      }
      containerSet(found.con, found.key, value);
      return;
    }
    case "move": {
      const from = stringField(op, "from", "move", "from");
      const src = findParent(holder.doc, from);
      if (!src)
        throw new ApplyError(
          `move operation does not apply: doc is missing from path: ${from}: ${MISSING}`,
        );
      let moved: JsonValue;
      try {
        moved = containerGet(src.con, src.key);
        containerRemove(src.con, src.key);
      } catch (e) {
        throw wrap(`error in move for path: '${src.key}'`, e);
      }
      const path = stringField(op, "path", "move", "path");
      const dst = findParent(holder.doc, path);
      if (!dst)
        throw new ApplyError(
          `move operation does not apply: doc is missing destination path: ${path}: ${MISSING}`,
        );
      try {
        containerAdd(dst.con, dst.key, moved);
      } catch (e) {
        throw wrap(`error in move for path: '${path}'`, e);
      }
      return;
    }
    case "copy": {
      const from = stringField(op, "from", "copy", "from");
      const src = findParent(holder.doc, from);
      if (!src)
        throw new ApplyError(
          `copy operation does not apply: doc is missing from path: ${from}: ${MISSING}`,
        );
      let copied: JsonValue;
      try {
        copied = jsonClone(containerGet(src.con, src.key));
      } catch (e) {
        throw wrap(`error in copy for from: '${from}'`, e);
      }
      const path = stringField(op, "path", "copy", "path");
      const dst = findParent(holder.doc, path);
      if (!dst)
        throw new ApplyError(
          `copy operation does not apply: doc is missing destination path: ${path}: ${MISSING}`,
        );
      try {
        containerAdd(dst.con, dst.key, copied);
      } catch (e) {
        throw wrap("error while adding value during copy", e);
      }
      return;
    }
    case "test": {
      const path = stringField(op, "path", "test", "path");
      if (path === "") {
        if (jsonEqual(holder.doc, value)) return;
        throw new ApplyError(`testing value ${path} failed: ${TEST_FAILED}`);
      }
      const found = findParent(holder.doc, path);
      if (!found)
        throw new ApplyError(`test operation does not apply: is missing path: ${path}: ${MISSING}`);
      let actual: JsonValue;
      try {
        actual = containerGet(found.con, found.key);
      } catch (e) {
        throw wrap(`error in test for path: '${path}'`, e);
      }
      if (jsonEqual(actual, value)) return;
      throw new ApplyError(`testing value ${path} failed: ${TEST_FAILED}`);
    }
    default:
      throw new ApplyError(`Unexpected kind: ${kind}`);
  }
}
