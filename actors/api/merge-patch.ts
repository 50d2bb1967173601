/**
 * RFC 7386 JSON Merge Patch (`application/merge-patch+json`): objects merge recursively, `null`
 * deletes a member, anything else (arrays included) replaces. `createMergePatch` is the inverse
 * direction: the smallest patch that turns `original` into `modified` (only representable when
 * `modified` holds no `null` member values, which a merge patch cannot set).
 */
import {
  getMember,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  jsonClone,
  jsonEqual,
  setMember,
} from "./json.ts";

/** RFC 7386 §2 MergePatch(Target, Patch). Never mutates its arguments. */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return jsonClone(patch);
  const result: JsonObject = isJsonObject(target) ? jsonClone(target) : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete result[name];
    else setMember(result, name, applyMergePatch(getMember(result, name), value));
  }
  return result;
}

/** A merge patch p with applyMergePatch(original, p) equal to modified. */
export function createMergePatch(original: JsonValue, modified: JsonValue): JsonValue {
  if (!isJsonObject(original) || !isJsonObject(modified)) return jsonClone(modified);
  const patch: JsonObject = {};
  for (const k of Object.keys(original)) {
    if (!Object.hasOwn(modified, k)) setMember(patch, k, null);
  }
  for (const [k, v] of Object.entries(modified)) {
    if (!Object.hasOwn(original, k)) {
      setMember(patch, k, jsonClone(v));
      continue;
    }
    const o = original[k]!;
    if (jsonEqual(o, v)) continue;
    setMember(patch, k, isJsonObject(o) && isJsonObject(v) ? createMergePatch(o, v) : jsonClone(v));
  }
  return patch;
}
