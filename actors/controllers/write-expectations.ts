/**
 * What a controller wrote that its informer cache has not shown yet (the idea of
 * kube-controller-manager's `EndpointSliceTracker`, by resourceVersion). A controller that
 * computed its next writes from a cache missing its own last ones would create an object twice
 * (EndpointSlices are named by generateName, so a second create does not fail) or update from a
 * stale resourceVersion (a 409 and a retry). Until the cache catches up, it waits instead.
 *
 * Keyed by owner (the Service key) and object name. Expectations expire after a timeout, as
 * `Expectations` do: a write can vanish from view for good (someone deleted the object at once).
 */
import { asObject, type JsonObject } from "../api/json.ts";
import type { Clock } from "../system/clock.ts";
import { EXPECTATIONS_TIMEOUT_MS } from "./expectations.ts";
import { nameOf } from "./owner-references.ts";

interface Pending {
  /** Object name → the resourceVersion our write produced. */
  written: Map<string, number>;
  deleted: Set<string>;
  sinceMs: number;
}

function revisionOf(object: JsonObject): number {
  return Number(asObject(object.metadata).resourceVersion ?? 0);
}

export class WriteExpectations {
  private readonly byOwner = new Map<string, Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs = EXPECTATIONS_TIMEOUT_MS,
  ) {}

  /** `written` is the API's answer to a create or update (it carries the new resourceVersion). */
  expectWritten(owner: string, written: JsonObject): void {
    const e = this.entry(owner);
    e.written.set(nameOf(written), revisionOf(written));
    e.deleted.delete(nameOf(written));
  }

  expectDeleted(owner: string, name: string): void {
    const e = this.entry(owner);
    e.deleted.add(name);
    e.written.delete(name);
  }

  /**
   * True when `lookup` (the cache, by object name) shows every write of `owner` at its
   * resourceVersion or later and none of its deleted objects, or when the wait expired.
   */
  satisfied(owner: string, lookup: (name: string) => JsonObject | undefined): boolean {
    const e = this.byOwner.get(owner);
    if (!e) return true;
    for (const [name, revision] of e.written) {
      const cached = lookup(name);
      if (cached && revisionOf(cached) >= revision) e.written.delete(name);
    }
    for (const name of e.deleted) if (!lookup(name)) e.deleted.delete(name);
    const done =
      (e.written.size === 0 && e.deleted.size === 0) ||
      this.clock.nowMs() - e.sinceMs > this.timeoutMs;
    if (done) this.byOwner.delete(owner);
    return done;
  }

  forget(owner: string): void {
    this.byOwner.delete(owner);
  }

  private entry(owner: string): Pending {
    let e = this.byOwner.get(owner);
    if (!e) {
      e = { written: new Map(), deleted: new Set(), sinceMs: this.clock.nowMs() };
      this.byOwner.set(owner, e);
    }
    return e;
  }
}
