import { describe, expect, it } from "vitest";
import type { ChaosOp } from "../../../cmd/chaos/history.ts";
import {
  analyzeHistory,
  compareWithStore,
  isClean,
  type StoreWrite,
} from "../../../cmd/chaos/history-analysis.ts";

/**
 * Hand-made histories: two clients on one key. Times are milliseconds; a missing return time
 * means the operation's outcome is unknown (it failed or timed out).
 */
const put = (
  clientId: number,
  value: string,
  callMs: number,
  returnMs?: number,
  revision?: number,
): ChaosOp => ({
  op: "put",
  clientId,
  key: "k",
  value,
  callMs,
  ...(returnMs === undefined ? {} : { returnMs }),
  ...(revision === undefined ? {} : { revision }),
});
const get = (
  clientId: number,
  value: string | undefined,
  callMs: number,
  returnMs: number,
): ChaosOp => ({
  op: "get",
  clientId,
  key: "k",
  callMs,
  returnMs,
  ...(value === undefined ? {} : { value }),
});
const applied = (value: string, revision: number): StoreWrite => ({ key: "k", value, revision });

describe("history analysis", () => {
  it("a clean history passes: every acknowledged put applied once, reads linearizable", () => {
    const ops = [
      put(1, "c1-1", 0, 10, 2),
      put(2, "c2-1", 5, 20, 3), // concurrent with c1-1, applied after it
      get(1, "c2-1", 21, 25),
      put(1, "c1-2", 30, 40, 4),
      get(2, "c1-2", 41, 45),
    ];
    const verdict = analyzeHistory(ops, [
      applied("c1-1", 2),
      applied("c2-1", 3),
      applied("c1-2", 4),
    ]);
    expect(verdict.linearizability).toEqual({ linearizable: true });
    expect(verdict.lost).toEqual([]);
    expect(verdict.duplicated).toEqual([]);
    expect(isClean(verdict)).toBe(true);
  });

  it("an acknowledged put missing from the store's history is lost", () => {
    const ops = [put(1, "c1-1", 0, 10, 2), put(2, "c2-1", 20, 30, 3), get(1, "c1-1", 40, 45)];
    // The store never applied c2-1, though the client was told revision 3.
    const verdict = analyzeHistory(ops, [applied("c1-1", 2)]);
    expect(verdict.lost).toEqual([{ key: "k", value: "c2-1", revisions: [3] }]);
    // ... and the read after it returned the older value: not linearizable either.
    expect(verdict.linearizability).toMatchObject({ linearizable: false, key: "k" });
    expect(isClean(verdict)).toBe(false);
  });

  it("a value applied at two revisions is a duplicated write", () => {
    const ops = [put(1, "c1-1", 0, 10, 2), put(2, "c2-1", 3, 8, 3)];
    // c1-1 applied again after a failover (a retry without session de-duplication).
    const store = [applied("c1-1", 2), applied("c2-1", 3), applied("c1-1", 5)];
    const result = compareWithStore(ops, store);
    expect(result.duplicated).toEqual([{ key: "k", value: "c1-1", revisions: [2, 5] }]);
    expect(result.lost).toEqual([]);
  });

  it("a pending put may or may not have been applied: neither is a loss", () => {
    const ops = [put(1, "c1-1", 0, 10, 2), put(2, "c2-1", 20), get(1, "c1-1", 30, 35)];
    const notApplied = analyzeHistory(ops, [applied("c1-1", 2)]);
    expect(isClean(notApplied)).toBe(true);
    const appliedLater = analyzeHistory(
      [...ops, get(1, "c2-1", 40, 45)],
      [applied("c1-1", 2), applied("c2-1", 3)],
    );
    expect(isClean(appliedLater)).toBe(true);
  });

  it("a value no client wrote, or a put acknowledged at another revision, is flagged", () => {
    const ops = [put(1, "c1-1", 0, 10, 2)];
    const result = compareWithStore(ops, [applied("c1-1", 4), applied("ghost", 5)]);
    expect(result.phantom).toEqual([{ key: "k", value: "ghost", revisions: [5] }]);
    expect(result.revisionMismatch).toEqual([{ key: "k", value: "c1-1", revisions: [2, 4] }]);
  });

  it("a stale read after an acknowledged write is not linearizable", () => {
    const ops = [
      put(1, "c1-1", 0, 10, 2),
      put(1, "c1-2", 20, 30, 3),
      get(2, "c1-1", 40, 50), // c1-2 was acknowledged before this read began
    ];
    const verdict = analyzeHistory(ops, [applied("c1-1", 2), applied("c1-2", 3)]);
    expect(verdict.linearizability).toMatchObject({ linearizable: false, key: "k" });
    expect(verdict.lost).toEqual([]);
  });
});
