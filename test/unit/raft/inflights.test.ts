/** The bounded in-flight window and progress states (etcd's tracker/inflights.go, progress.go). */
import { describe, expect, it } from "vitest";
import { Inflights } from "../../../raft/core/inflights.ts";
import { Progress } from "../../../raft/core/progress.ts";

describe("Inflights", () => {
  it("fills to capacity, frees acknowledged prefixes, and wraps around its ring buffer", () => {
    const inf = new Inflights(3);
    inf.add(5);
    inf.add(7);
    inf.add(9);
    expect(inf.full()).toBe(true);
    expect(() => inf.add(10)).toThrow(/full/);
    inf.freeLE(7);
    expect(inf.count()).toBe(1);
    inf.add(11);
    inf.add(13);
    expect(inf.full()).toBe(true);
    inf.freeLE(6); // nothing at or below 6 remains
    expect(inf.count()).toBe(3);
    inf.freeFirstOne();
    expect(inf.count()).toBe(2);
    inf.freeLE(100);
    expect(inf.count()).toBe(0);
  });

  it("rejects indexes that do not grow", () => {
    const inf = new Inflights(4);
    inf.add(5);
    expect(() => inf.add(5)).toThrow();
  });
});

describe("Progress (Raft §5.3 nextIndex / matchIndex with flow control)", () => {
  const fresh = () => new Progress({ match: 0, next: 6, maxInflight: 2, isLearner: false });

  it("probe: one MsgApp at a time, unpaused by the answer", () => {
    const pr = fresh();
    pr.updateOnEntriesSend(1, 6);
    expect(pr.isPaused()).toBe(true);
    expect(pr.maybeUpdate(6)).toBe(true);
    expect(pr.isPaused()).toBe(false);
  });

  it("replicate: optimistic next, paused when the window is full", () => {
    const pr = fresh();
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    pr.updateOnEntriesSend(2, 6);
    expect(pr.next).toBe(8);
    pr.updateOnEntriesSend(1, 8);
    expect(pr.isPaused()).toBe(true);
    pr.maybeUpdate(7);
    pr.inflights.freeLE(7);
    expect(pr.inflights.count()).toBe(1);
  });

  it("a rejection in probe state moves next down to the hint; a stale rejection is ignored", () => {
    const pr = new Progress({ match: 0, next: 10, maxInflight: 2, isLearner: false });
    expect(pr.maybeDecrTo(5, 3)).toBe(false); // not about our latest probe (at next-1 = 9)
    expect(pr.maybeDecrTo(9, 3)).toBe(true);
    expect(pr.next).toBe(4);
  });

  it("a rejection in replicate state falls back to match + 1", () => {
    const pr = fresh();
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    pr.updateOnEntriesSend(2, 6);
    expect(pr.maybeDecrTo(4, 4)).toBe(false); // at or below match: stale
    expect(pr.maybeDecrTo(7, 3)).toBe(true);
    expect(pr.next).toBe(6);
  });

  it("snapshot: paused until done; probing resumes after the snapshot", () => {
    const pr = fresh();
    pr.becomeSnapshot(20);
    expect(pr.isPaused()).toBe(true);
    pr.becomeProbe();
    expect(pr.next).toBe(21);
  });
});
