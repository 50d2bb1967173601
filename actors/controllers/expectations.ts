/**
 * Controller expectations (kube-controller-manager's `ControllerExpectations`): after a
 * ReplicaSet creates or deletes pods, its informer has not seen them yet; acting again on that
 * stale cache would create (or delete) them twice. The owner waits until every pod it created is
 * in the cache and every pod it deleted is gone from it, or until the expectations expire (a
 * watch event can be missed for good: a pod created then deleted by someone else at once).
 */
import type { Clock } from "../system/clock.ts";

/** Kubernetes waits 5 minutes; bosun's watches are local and fast. */
export const EXPECTATIONS_TIMEOUT_MS = 5_000;

interface Expected {
  created: Set<string>;
  deleted: Set<string>;
  sinceMs: number;
}

export class Expectations {
  private readonly byOwner = new Map<string, Expected>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs = EXPECTATIONS_TIMEOUT_MS,
  ) {}

  expectCreated(owner: string, keys: string[]): void {
    for (const k of keys) this.entry(owner).created.add(k);
  }

  expectDeleted(owner: string, keys: string[]): void {
    for (const k of keys) this.entry(owner).deleted.add(k);
  }

  /** True when the cache (`has`) reflects every expected change, or they expired. */
  satisfied(owner: string, has: (key: string) => boolean): boolean {
    const e = this.byOwner.get(owner);
    if (!e) return true;
    for (const k of e.created) if (has(k)) e.created.delete(k);
    for (const k of e.deleted) if (!has(k)) e.deleted.delete(k);
    const done =
      (e.created.size === 0 && e.deleted.size === 0) ||
      this.clock.nowMs() - e.sinceMs > this.timeoutMs;
    if (done) this.byOwner.delete(owner);
    return done;
  }

  forget(owner: string): void {
    this.byOwner.delete(owner);
  }

  private entry(owner: string): Expected {
    let e = this.byOwner.get(owner);
    if (!e) {
      e = { created: new Set(), deleted: new Set(), sinceMs: this.clock.nowMs() };
      this.byOwner.set(owner, e);
    }
    return e;
  }
}
