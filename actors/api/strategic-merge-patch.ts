/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), applied server-side the way
 * apimachinery `pkg/util/strategicpatch/patch.go` does with MergeParallelList and
 * IgnoreUnmatchedNulls (what `StrategicMergeMapPatch` uses):
 *
 * - maps merge recursively; `null` deletes; scalars and mismatched types replace;
 * - lists whose field has `patchStrategy: merge` merge: lists of maps by the field's
 *   `patchMergeKey` (a patch item with `$patch: delete` removes the item, `{$patch: replace}`
 *   replaces the whole list), lists of primitives as a set union; other lists are replaced;
 * - `$patch: replace` on a map replaces it, `$patch: delete` empties it;
 * - `$retainKeys: [..]` drops every key of the live map not listed;
 * - `$deleteFromPrimitiveList/<field>: [..]` removes values from a primitive list;
 * - `$setElementOrder/<field>: [..]` fixes the order of the merged list; live-only items keep
 *   their relative order and are interleaved by their live position (`mergeSortedSlice`).
 *
 * The merge keys and strategies come from `schema.ts` (the Go struct tags as data).
 */
import { isJsonObject, type JsonObject, type JsonValue, jsonClone, setMember } from "./json.ts";
import {
  type FieldSchema,
  KIND_ROOTS,
  resolveStruct,
  type StructSchema,
  type ValueType,
} from "./schema.ts";

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER = "$setElementOrder/";

/**
 * How the API server reports the failure (`interpretStrategicMergePatchError`): a malformed
 * directive is a 400, a list of lists a 422, anything else surfaces as an internal error.
 */
export type StrategicMergePatchErrorKind = "badRequest" | "invalid" | "internal";

export class StrategicMergePatchError extends Error {
  override name = "StrategicMergePatchError";
  constructor(
    message: string,
    readonly kind: StrategicMergePatchErrorKind,
  ) {
    super(message);
  }
}

const errBadJsonDoc = () => new StrategicMergePatchError("invalid JSON document", "badRequest");
const errRetainKeys = () =>
  new StrategicMergePatchError("invalid patch format of retainKeys", "badRequest");
const errSetElementOrder = () =>
  new StrategicMergePatchError("invalid patch format of setElementOrder list", "badRequest");
const errPrimitiveList = () =>
  new StrategicMergePatchError("invalid patch format of primitive list", "badRequest");
const errNoMergeKey = (m: JsonValue, key: string) =>
  new StrategicMergePatchError(
    `map: ${JSON.stringify(m)} does not contain declared merge key: ${key}`,
    "internal",
  );

/** Where we are in the schema: a struct, the values of a map, or unknown territory. */
type Shape =
  | { kind: "struct"; schema: StructSchema }
  | { kind: "map"; values: ValueType }
  | { kind: "unknown" };

const UNKNOWN: Shape = { kind: "unknown" };

function shapeOf(type: ValueType | undefined): Shape {
  if (type === undefined) return UNKNOWN;
  if (type.kind === "map") return { kind: "map", values: type.values };
  const s = resolveStruct(type);
  return s ? { kind: "struct", schema: s } : UNKNOWN;
}

function lookupField(shape: Shape, key: string): FieldSchema | undefined {
  if (shape.kind === "struct") return shape.schema[key];
  if (shape.kind === "map") return { type: shape.values };
  return undefined;
}

/** `extractRetainKeysPatchStrategy`: only "merge" (possibly with retainKeys) merges. */
function mergesLists(field: FieldSchema | undefined): boolean {
  return field?.patchStrategy === "merge" || field?.patchStrategy === "merge,retainKeys";
}

function itemShape(field: FieldSchema | undefined): Shape {
  return field?.type.kind === "list" ? shapeOf(field.type.items) : UNKNOWN;
}

/**
 * Applies `patch` to `original` (an object of `kind`, e.g. "Pod") and returns the result; the
 * inputs are not mutated. Kinds without a schema merge maps and replace every list.
 */
export function applyStrategicMergePatch(
  original: JsonObject,
  patch: JsonValue,
  kind: string,
): JsonObject {
  if (!isJsonObject(patch)) throw errBadJsonDoc();
  const root = KIND_ROOTS[kind];
  const shape: Shape = root ? { kind: "struct", schema: root } : UNKNOWN;
  return mergeMap(jsonClone(original), jsonClone(patch), shape);
}

function mergeMap(original: JsonObject, patch: JsonObject, shape: Shape): JsonObject {
  if (Object.hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    if (directive === "replace") {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === "delete") return {};
    throw new StrategicMergePatchError(
      `unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`,
      "internal",
    );
  }
  applyRetainKeys(original, patch);
  applySetElementOrder(original, patch, shape);

  for (const [rawKey, patchV] of Object.entries(patch)) {
    let k = rawKey;
    let isDeleteList = false;
    if (rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      k = rawKey.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      isDeleteList = true;
      if (!Array.isArray(patchV)) throw errPrimitiveList();
    }
    if (patchV === null) {
      delete original[k];
      continue;
    }
    if (!Object.hasOwn(original, k)) {
      // Not in the live object: take the patch value (minus its nulls); a deletion list
      // against a missing list has nothing to delete.
      if (!isDeleteList) setMember(original, k, discardNulls(patchV));
      continue;
    }
    const originalV = original[k]!;
    const field = lookupField(shape, k);
    if (isJsonObject(originalV) && isJsonObject(patchV)) {
      original[k] =
        field?.patchStrategy === "replace"
          ? patchV
          : mergeMap(originalV, patchV, shapeOf(field?.type));
    } else if (Array.isArray(originalV) && Array.isArray(patchV)) {
      original[k] =
        mergesLists(field) || isDeleteList
          ? mergeSlice(
              originalV,
              patchV,
              itemShape(field),
              field?.patchMergeKey ?? "",
              isDeleteList,
            )
          : patchV;
    } else {
      // A value of another type replaces the live one. Go keeps nulls inside it, which the
      // typed decode that follows drops; dropping them here gives the same object.
      setMember(original, k, discardNulls(patchV));
    }
  }
  return original;
}

function discardNulls(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(discardNulls);
  if (isJsonObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) setMember(out, k, discardNulls(x));
    return out;
  }
  return v;
}

/** `applyRetainKeysDirective`. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw errRetainKeys();
  const keep = new Set(list.map((v) => String(v)));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER))
      continue;
    if (!keep.has(k)) throw errRetainKeys();
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

function hasDirective(v: JsonValue): boolean {
  return isJsonObject(v) && Object.hasOwn(v, DIRECTIVE);
}

function isDeleteItem(v: JsonValue): boolean {
  return isJsonObject(v) && v[DIRECTIVE] === "delete";
}

/** The identity of a list item: its merge key value for maps, itself for primitives. */
function identity(item: JsonValue, mergeKey: string): JsonValue | undefined {
  if (mergeKey === "") return item;
  return isJsonObject(item) ? item[mergeKey] : undefined;
}

function indexIn(list: readonly JsonValue[], item: JsonValue, mergeKey: string): number {
  const id = identity(item, mergeKey);
  return list.findIndex((v) => identity(v, mergeKey) === id);
}

/** `validatePatchWithSetOrderList`: the patch items must appear in the order list, in order. */
function validateOrder(patchList: JsonValue[], orderList: JsonValue[], mergeKey: string): void {
  if (orderList.length === 0 || patchList.length === 0) return;
  const items = mergeKey === "" ? patchList : patchList.filter((v) => !isDeleteItem(v));
  let p = 0;
  let o = 0;
  while (p < items.length && o < orderList.length) {
    if (hasDirective(items[p]!)) {
      p++;
      continue;
    }
    if (identity(items[p]!, mergeKey) === identity(orderList[o]!, mergeKey)) p++;
    o++;
  }
  if (p < items.length) {
    throw new StrategicMergePatchError(
      `The order in patch list:\n${JSON.stringify(patchList)}\n doesn't match $setElementOrder list:\n${JSON.stringify(orderList)}\n`,
      "badRequest",
    );
  }
}

/** `mergePatchIntoOriginal`: every `$setElementOrder/<field>` with its patch list. */
function applySetElementOrder(original: JsonObject, patch: JsonObject, shape: Shape): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw errSetElementOrder();
    const field = key.slice(SET_ELEMENT_ORDER.length);
    const foundOriginal = Object.hasOwn(original, field);
    const foundPatch = Object.hasOwn(patch, field);
    const originalList = foundOriginal ? original[field] : [];
    const patchList = foundPatch ? patch[field] : [];
    if (!Array.isArray(originalList) || !Array.isArray(patchList)) throw errSetElementOrder();
    const schema = lookupField(shape, field);
    const mergeKey = schema?.patchMergeKey ?? "";
    validateOrder(patchList, order, mergeKey);
    let merged: JsonValue[];
    if (foundOriginal && foundPatch) {
      merged = mergesLists(schema)
        ? mergeSlice(originalList, patchList, itemShape(schema), mergeKey, false)
        : patchList;
    } else if (foundOriginal) {
      merged = originalList;
    } else if (foundPatch) {
      merged = patchList;
    } else {
      continue;
    }
    const inOrder = merged.filter((v) => indexIn(order, v, mergeKey) >= 0);
    const serverOnly = merged.filter((v) => indexIn(order, v, mergeKey) < 0);
    const serverOrder = foundPatch
      ? visibleServerOrder(originalList, patchList, mergeKey)
      : originalList;
    original[field] = normalizeElementOrder(inOrder, serverOnly, order, serverOrder, mergeKey);
    delete patch[field];
  }
}

/**
 * The live order the Go code compares against after merging a keyed list. Its merge deletes
 * entries in place and appends new ones to the same backing array, so the live list it later
 * reads (still of the original length) holds the surviving items followed by the first new
 * patch items. Kubernetes' own cases ("add map and delete map from merging list") depend on
 * this, so it is reproduced deliberately: without deletions it is just the live list.
 */
function visibleServerOrder(
  live: JsonValue[],
  patchList: JsonValue[],
  mergeKey: string,
): JsonValue[] {
  if (mergeKey === "") return live;
  const deleted = patchList.filter(isDeleteItem).map((v) => identity(v, mergeKey));
  const surviving = live.filter((v) => !deleted.includes(identity(v, mergeKey)));
  const added = patchList.filter((v) => !hasDirective(v) && indexIn(surviving, v, mergeKey) < 0);
  return [...surviving, ...added].slice(0, live.length);
}

function mergeSlice(
  original: JsonValue[],
  patch: JsonValue[],
  elemShape: Shape,
  mergeKey: string,
  isDeleteList: boolean,
): JsonValue[] {
  if (original.length === 0 && patch.length === 0) return original;
  const all = [...original, ...patch];
  if (all.some(Array.isArray))
    throw new StrategicMergePatchError("lists of lists are not supported", "invalid");
  const ofMaps = all.some(isJsonObject);

  let merged: JsonValue[];
  let live = original;
  let patchItems = patch;
  if (!ofMaps) {
    if (isDeleteList) {
      return original.filter((v) => !patch.some((d) => d === v));
    }
    merged = [];
    for (const v of all) if (!merged.some((m) => m === v)) merged.push(v);
  } else {
    if (mergeKey === "")
      throw new StrategicMergePatchError(
        "cannot merge lists without merge key for type map",
        "internal",
      );
    [live, patchItems] = mergeSpecialElements(original, patch, mergeKey);
    merged = [...live];
    for (const v of patchItems) {
      if (!isJsonObject(v)) throw errNoMergeKey(v, mergeKey);
      if (!Object.hasOwn(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
      const at = merged.findIndex((m) => isJsonObject(m) && m[mergeKey] === v[mergeKey]);
      if (at >= 0) merged[at] = mergeMap(merged[at] as JsonObject, v, elemShape);
      else merged.push(v);
    }
  }
  const fromPatch = merged.filter((v) => indexIn(patchItems, v, mergeKey) >= 0);
  const serverOnly = merged.filter((v) => indexIn(patchItems, v, mergeKey) < 0);
  return normalizeElementOrder(fromPatch, serverOnly, patchItems, live, mergeKey);
}

/** `mergeSliceWithSpecialElements`: `$patch: delete` items and the `{$patch: replace}` marker. */
function mergeSpecialElements(
  original: JsonValue[],
  patch: JsonValue[],
  mergeKey: string,
): [JsonValue[], JsonValue[]] {
  const plain: JsonValue[] = [];
  let live = original;
  let replace = false;
  for (const v of patch) {
    if (!isJsonObject(v) || !Object.hasOwn(v, DIRECTIVE)) {
      plain.push(v);
      continue;
    }
    const directive = v[DIRECTIVE];
    if (directive === "delete") {
      if (!Object.hasOwn(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
      live = live.filter((m) => !(isJsonObject(m) && m[mergeKey] === v[mergeKey]));
    } else if (directive === "replace") {
      replace = true;
    } else if (directive === "merge") {
      throw new StrategicMergePatchError(
        "merging lists cannot yet be specified in the patch",
        "internal",
      );
    } else {
      throw new StrategicMergePatchError(
        `unknown patch type: ${String(directive)} in map: ${JSON.stringify(v)}`,
        "internal",
      );
    }
  }
  return replace ? [plain, []] : [live, plain];
}

/** Stable sort of `items` by their position in `order` (items absent from it keep theirs). */
function sortByOrder(
  items: JsonValue[],
  order: readonly JsonValue[],
  mergeKey: string,
): JsonValue[] {
  return items
    .map((v, i) => ({ v, i, at: indexIn(order, v, mergeKey) }))
    .sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : a.i - b.i))
    .map((x) => x.v);
}

/** `normalizeElementOrder` + `mergeSortedSlice`. */
function normalizeElementOrder(
  patchItems: JsonValue[],
  serverOnly: JsonValue[],
  patchOrder: readonly JsonValue[],
  serverOrder: readonly JsonValue[],
  mergeKey: string,
): JsonValue[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey);
  const out: JsonValue[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]!);
    else if (j >= right.length) out.push(left[i++]!);
    else {
      const li = indexIn(serverOrder, left[i]!, mergeKey);
      const ri = indexIn(serverOrder, right[j]!, mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]!);
      else out.push(right[j++]!);
    }
  }
  return out;
}
