/**
 * An informer's local cache (client-go's thread-safe store + DeltaFIFO, folded together): objects
 * keyed `namespace/name` (`name` for cluster-scoped), the event handlers, and the diff that
 * turns a fresh list into the adds, updates and deletes the handlers missed. Pure: no I/O.
 */

import type { ApiWatchEvent } from "../api/api-protocol.ts";
import { asObject, type JsonObject } from "../api/json.ts";

export interface InformerHandlers {
  add?(object: JsonObject): void;
  /** Also called on resync with the same object twice (client-go's OnUpdate on resync). */
  update?(oldObject: JsonObject, newObject: JsonObject): void;
  /** With the last state the informer knew (it may have missed the final one on a relist). */
  delete?(object: JsonObject): void;
}

export function objectCacheKey(object: JsonObject): string {
  const meta = asObject(object.metadata);
  const name = String(meta.name ?? "");
  return typeof meta.namespace === "string" && meta.namespace !== ""
    ? `${meta.namespace}/${name}`
    : name;
}

export function resourceVersionOf(object: JsonObject): string {
  return String(asObject(object.metadata).resourceVersion ?? "");
}

/** Revisions are numbers in bosun (the store's), so they compare; "" is before everything. */
export function isNewerVersion(candidate: string, than: string): boolean {
  if (than === "") return true;
  return Number(candidate) > Number(than);
}

export class InformerCache {
  private readonly objects = new Map<string, JsonObject>();

  constructor(private readonly handlers: InformerHandlers) {}

  get(key: string): JsonObject | undefined {
    return this.objects.get(key);
  }

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }

  list(): JsonObject[] {
    return this.keys().map((k) => this.objects.get(k) as JsonObject);
  }

  /**
   * One page of a list that replaces the contents (client-go's reflector lists in pages of
   * 500): adds for new keys and updates for objects whose resourceVersion moved go out now;
   * `seen` collects the page's keys for `finishReplace`.
   */
  replacePage(seen: Set<string>, items: readonly JsonObject[]): void {
    for (const object of items) {
      const key = objectCacheKey(object);
      seen.add(key);
      const old = this.objects.get(key);
      this.objects.set(key, object);
      if (old === undefined) this.handlers.add?.(object);
      else if (resourceVersionOf(old) !== resourceVersionOf(object))
        this.handlers.update?.(old, object);
    }
  }

  /** The list is complete: what no page had is gone (a delete with its last known state). */
  finishReplace(seen: ReadonlySet<string>): void {
    for (const [key, old] of [...this.objects]) {
      if (!seen.has(key)) {
        this.objects.delete(key);
        this.handlers.delete?.(old);
      }
    }
  }

  /** One watch event into the cache and out to the handlers (bookmarks change nothing). */
  apply(event: ApiWatchEvent): void {
    if (event.type === "BOOKMARK" || event.type === "ERROR") return;
    const key = objectCacheKey(event.object);
    const old = this.objects.get(key);
    if (event.type === "DELETED") {
      this.objects.delete(key);
      if (old !== undefined) this.handlers.delete?.(event.object);
      return;
    }
    this.objects.set(key, event.object);
    if (old === undefined) this.handlers.add?.(event.object);
    else this.handlers.update?.(old, event.object);
  }

  /** Every cached object to `update(o, o)` again (the resync period). */
  resync(): void {
    for (const object of this.list()) this.handlers.update?.(object, object);
  }
}
