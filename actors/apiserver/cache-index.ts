/**
 * The watch cache's data: every object under the cache's prefix, decoded once when its write
 * arrives (not once per read), in key order so a collection is a contiguous run of keys, as in
 * the store. Pure: no I/O, no clock; the watch cache feeds it store events.
 */
import type { JsonObject } from "../api/json.ts";
import { decodeObject } from "./storage-codec.ts";

/**
 * The JSON text of each cached object, made once when its write arrives: a LIST of 100 objects
 * then costs string joins instead of 100 serialisations (see `toJson`). Keyed by the object
 * itself (frozen, so the text can never go stale).
 */
const serialized = new WeakMap<object, string>();

/** The JSON text of a cached object (undefined for any other value). */
export function cachedJson(value: object): string | undefined {
  return serialized.get(value);
}

/** `JSON.stringify(value)`, reusing the text of cached objects for a body or a list's items. */
export function toJson(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  const whole = serialized.get(value);
  if (whole !== undefined) return whole;
  const items = (value as { items?: unknown }).items;
  if (!Array.isArray(items) || items.length === 0) return JSON.stringify(value);
  const texts: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const text = typeof items[i] === "object" ? serialized.get(items[i] as object) : undefined;
    if (text === undefined) return JSON.stringify(value);
    texts[i] = text;
  }
  // `items` last, so the rest is one object whose closing brace the items go before
  const rest = JSON.stringify({ ...(value as object), items: undefined });
  const head = rest === "{}" ? "{" : `${rest.slice(0, -1)},`;
  return `${head}"items":[${texts.join(",")}]}`;
}

export interface CachedObject {
  key: string;
  object: JsonObject;
  modRevision: number;
}

export interface CachePage {
  items: JsonObject[];
  /** The key after which the next page starts (the last key + NUL), when there is more. */
  nextKey: string | null;
  /** Keys under the prefix after this page. */
  remaining: number;
}

/** The first index in sorted `keys` whose key is ≥ `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class CacheIndex {
  private readonly entries = new Map<string, CachedObject>();
  /** Sorted as the store sorts keys (UTF-16 order equals byte order for the registry's ASCII keys). */
  private readonly keys: string[] = [];

  get size(): number {
    return this.entries.size;
  }

  /** Stores the object a write left; returns it as cached. */
  put(key: string, value: Uint8Array, modRevision: number): CachedObject {
    const object = decodeObject({ key, value, modRevision });
    // values are shared with readers: a reader that changed one would change the cache
    Object.freeze(object.metadata);
    Object.freeze(object);
    serialized.set(object, JSON.stringify(object));
    if (!this.entries.has(key)) this.keys.splice(lowerBound(this.keys, key), 0, key);
    const cached = { key, object, modRevision };
    this.entries.set(key, cached);
    return cached;
  }

  delete(key: string): void {
    if (!this.entries.delete(key)) return;
    const i = lowerBound(this.keys, key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }

  get(key: string): CachedObject | undefined {
    return this.entries.get(key);
  }

  /** Up to `limit` objects (0 = all) under `prefix` in key order. */
  page(prefix: string, limit: number): CachePage {
    const start = lowerBound(this.keys, prefix);
    const end = lowerBound(this.keys, prefixEnd(prefix));
    const total = end - start;
    const take = limit > 0 ? Math.min(limit, total) : total;
    const items: JsonObject[] = new Array(take);
    for (let i = 0; i < take; i++)
      items[i] = (this.entries.get(this.keys[start + i] as string) as CachedObject).object;
    const more = take < total;
    return {
      items,
      nextKey: more ? `${this.keys[start + take - 1]}\u0000` : null,
      remaining: total - take,
    };
  }
}

/** The smallest string above every string that starts with `prefix` (non-empty, ASCII). */
function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}
