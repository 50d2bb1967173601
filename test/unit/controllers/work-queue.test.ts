/** The rate-limited work queue: client-go's workqueue contract under a ManualClock. */
import { describe, expect, it } from "vitest";
import { keyBackoffMs, TokenBucket, WorkQueue } from "../../../actors/controllers/work-queue.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

describe("work queue", () => {
  it("deduplicates a key that is already queued", () => {
    const q = new WorkQueue(new ManualClock());
    q.add("a");
    q.add("a");
    q.add("b");
    expect([q.take(), q.take(), q.take()]).toEqual(["a", "b", null]);
  });

  it("a key added while processing is queued again only when done (never twice at once)", () => {
    const q = new WorkQueue(new ManualClock());
    q.add("a");
    expect(q.take()).toBe("a");
    q.add("a");
    expect(q.hasReady()).toBe(false);
    q.done("a");
    expect(q.take()).toBe("a");
  });

  it("per-key exponential backoff on failures, reset by forget", () => {
    const clock = new ManualClock();
    const q = new WorkQueue(clock, () => {}, { backoffInitialMs: 10, backoffMaxMs: 35 });
    expect([1, 2, 3, 4].map((n) => keyBackoffMs(q.limits, n))).toEqual([10, 20, 35, 35]);
    q.addRateLimited("a");
    clock.advance(9);
    expect(q.hasReady()).toBe(false);
    clock.advance(1);
    expect(q.take()).toBe("a");
    q.done("a");
    q.addRateLimited("a");
    clock.advance(19);
    expect(q.hasReady()).toBe(false);
    clock.advance(1);
    expect(q.take()).toBe("a");
    q.forget("a");
    expect(q.failuresOf("a")).toBe(0);
  });

  it("a global token bucket limits the retry rate across keys", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(10, 2, clock);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([
      0, 0, 100, 200,
    ]);
    clock.advance(1_000);
    expect(bucket.reserve()).toBe(0);
  });

  it("addAfter: the earliest delay wins, and the key is announced when due", () => {
    const clock = new ManualClock();
    let ready = 0;
    const q = new WorkQueue(clock, () => ready++);
    q.addAfter("a", 100);
    q.addAfter("a", 50);
    q.addAfter("a", 80);
    clock.advance(50);
    expect(ready).toBe(1);
    expect(q.take()).toBe("a");
    q.done("a");
    clock.advance(100);
    expect(q.hasReady()).toBe(false);
  });

  it("is bounded: past maxLength new keys are dropped and counted", () => {
    const q = new WorkQueue(new ManualClock(), () => {}, { maxLength: 2 });
    q.add("a");
    q.add("b");
    q.add("c");
    q.addAfter("d", 10);
    expect(q.length()).toBe(2);
    expect(q.dropped).toBe(2);
  });
});
