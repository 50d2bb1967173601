/**
 * A rate-limited work queue (client-go's `workqueue.RateLimitingInterface`), with an injected
 * clock:
 *
 * - Dedup: a key is queued at most once; a key added while it is being processed is marked
 *   dirty and queued again when `done` is called (so one key is never reconciled twice at once,
 *   and no change is missed).
 * - Per-key exponential backoff for `addRateLimited` (failures), reset by `forget`.
 * - A global token bucket on `addRateLimited` too (client-go's DefaultControllerRateLimiter is
 *   the max of both): a storm of failing keys cannot hammer the API server.
 * - `addAfter` delays a key (the reconcile result's `requeueAfterMs`); the earliest wins.
 * - A bound on length (queued + waiting): past it new keys are dropped and counted — the
 *   informers' resync, or the next event on the object, brings them back.
 */
import type { Clock, TimerId } from "../system/clock.ts";

export interface WorkQueueLimits {
  /** Keys queued or waiting for their delay, at most. */
  maxLength: number;
  /** The first retry of a failing key waits this long; each further failure doubles it… */
  backoffInitialMs: number;
  /** … up to this. */
  backoffMaxMs: number;
  /** Global retry rate (token bucket refill) … */
  retriesPerSecond: number;
  /** … and burst. */
  retryBurst: number;
}

export const DEFAULT_WORK_QUEUE_LIMITS: WorkQueueLimits = {
  maxLength: 10_000,
  backoffInitialMs: 5,
  backoffMaxMs: 30_000,
  retriesPerSecond: 50,
  retryBurst: 100,
};

/** The pause after `failures` consecutive failures of one key. */
export function keyBackoffMs(limits: WorkQueueLimits, failures: number): number {
  return Math.min(limits.backoffInitialMs * 2 ** Math.max(0, failures - 1), limits.backoffMaxMs);
}

/**
 * A token bucket with reservations (golang.org/x/time/rate's `Reserve`): each retry takes a
 * token now, or the delay until its token is there.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.lastMs = clock.nowMs();
  }

  /** Takes one token; returns how long to wait until it is really ours (0 = now). */
  reserve(): number {
    const now = this.clock.nowMs();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.lastMs) * this.ratePerSecond) / 1000,
    );
    this.lastMs = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond);
  }
}

export class WorkQueue {
  readonly limits: WorkQueueLimits;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly waiting = new Map<string, { dueMs: number; timer: TimerId }>();
  private readonly failures = new Map<string, number>();
  private readonly bucket: TokenBucket;
  private shutDown = false;
  /** Keys dropped because the queue was full. */
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    /** Called whenever a key becomes ready to take. */
    private readonly onReady: () => void = () => {},
    limits: Partial<WorkQueueLimits> = {},
  ) {
    this.limits = { ...DEFAULT_WORK_QUEUE_LIMITS, ...limits };
    this.bucket = new TokenBucket(this.limits.retriesPerSecond, this.limits.retryBurst, clock);
  }

  /** Queues `key` now (deduplicated). */
  add(key: string): void {
    if (this.shutDown) return;
    if (this.queued.has(key)) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.isFull()) {
      this.dropped++;
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
    this.onReady();
  }

  /** Queues `key` after `delayMs` (the earliest pending delay for a key wins). */
  addAfter(key: string, delayMs: number): void {
    if (this.shutDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const dueMs = this.clock.nowMs() + delayMs;
    const pending = this.waiting.get(key);
    if (pending && pending.dueMs <= dueMs) return;
    if (pending) this.clock.clearTimeout(pending.timer);
    else if (this.isFull()) {
      this.dropped++;
      return;
    }
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { dueMs, timer });
  }

  /** Queues `key` after its backoff (a failure): max(per-key exponential, global bucket). */
  addRateLimited(key: string): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    this.addAfter(key, Math.max(keyBackoffMs(this.limits, failures), this.bucket.reserve()));
  }

  /** The key succeeded: its backoff starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  hasReady(): boolean {
    return this.queue.length > 0;
  }

  /** The next key to process (now marked processing), or null. */
  take(): string | null {
    const key = this.queue.shift();
    if (key === undefined) return null;
    this.queued.delete(key);
    this.processing.add(key);
    return key;
  }

  /** Processing of `key` ended: if it changed meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Queued + waiting + processing. */
  length(): number {
    return this.queue.length + this.waiting.size;
  }

  shutdown(): void {
    this.shutDown = true;
    for (const w of this.waiting.values()) this.clock.clearTimeout(w.timer);
    this.waiting.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private isFull(): boolean {
    return this.queue.length + this.waiting.size >= this.limits.maxLength;
  }
}
