/**
 * JSON values as the API server sees them after decoding a request body: the only shapes the
 * patch, selector, validation and table code ever handle. Objects are plain records.
 */
export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Structural equality, key order ignored (the equality RFC 6902 §4.6 "test" uses). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isJsonObject(a)) {
    if (!isJsonObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * Sets an own member. `__proto__` is an ordinary key in JSON (JSON.parse makes it an own
 * property); plain assignment would change the object's prototype instead of storing it.
 */
export function setMember(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__")
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else obj[key] = value;
}

/** Reads an own member only (never one inherited from Object.prototype). */
export function getMember(obj: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** A deep copy, so that patching never mutates the caller's object. */
export function jsonClone<T extends JsonValue>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => jsonClone(v)) as T;
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) setMember(out, k, jsonClone(v));
    return out as T;
  }
  return value;
}

/** Reads `a.b.c` from an object; undefined when any step is missing or not an object. */
export function getPath(
  value: JsonValue | undefined,
  path: readonly string[],
): JsonValue | undefined {
  let cur: JsonValue | undefined = value;
  for (const step of path) {
    if (!isJsonObject(cur)) return undefined;
    cur = cur[step];
  }
  return cur;
}

export function asObject(value: JsonValue | undefined): JsonObject {
  return isJsonObject(value) ? value : {};
}

export function asArray(value: JsonValue | undefined): JsonValue[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: JsonValue | undefined): string {
  return typeof value === "string" ? value : "";
}
