import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkKvHistory } from "../../../raft/sim/linearizability/checker.ts";
import type { KvOperation } from "../../../raft/sim/linearizability/kv-model.ts";

type Span = [callMs: number, returnMs: number | undefined];

const put = (c: string, key: string, value: string, [callMs, returnMs]: Span): KvOperation => ({
  clientId: c,
  op: "put",
  input: { key, value },
  output: null,
  callMs,
  returnMs,
});
const get = (
  c: string,
  key: string,
  output: string | undefined,
  [callMs, returnMs]: Span,
): KvOperation => ({ clientId: c, op: "get", input: { key }, output, callMs, returnMs });
const del = (c: string, key: string, [callMs, returnMs]: Span): KvOperation => ({
  clientId: c,
  op: "delete",
  input: { key },
  output: null,
  callMs,
  returnMs,
});
const cas = (
  c: string,
  key: string,
  expected: string | undefined,
  value: string,
  output: boolean | undefined,
  [callMs, returnMs]: Span,
): KvOperation => ({
  clientId: c,
  op: "cas",
  input: { key, expected, value },
  output,
  callMs,
  returnMs,
});

describe("linearizability checker: non-linearizable histories are caught", () => {
  it("a stale read after a completed write", () => {
    const result = checkKvHistory([
      put("a", "x", "1", [0, 10]),
      put("a", "x", "2", [20, 30]),
      get("b", "x", "1", [40, 50]),
    ]);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.key).toBe("x");
    expect(result.partialLinearization.length).toBe(2);
    expect(result.explanation).toContain('get(x) → "1"');
  });

  it("two readers observing two concurrent writes in opposite orders", () => {
    const result = checkKvHistory([
      put("w1", "x", "1", [0, 100]),
      put("w2", "x", "2", [0, 100]),
      get("r1", "x", "1", [10, 20]),
      get("r1", "x", "2", [30, 40]),
      get("r2", "x", "2", [10, 20]),
      get("r2", "x", "1", [30, 40]),
    ]);
    expect(result.ok).toBe(false);
  });

  it("a lost acknowledged write", () => {
    const result = checkKvHistory([
      put("a", "x", "1", [0, 10]),
      get("b", "x", undefined, [20, 30]),
    ]);
    expect(result.ok).toBe(false);
  });

  it("a pending write cannot be observed and then un-happen", () => {
    const result = checkKvHistory([
      put("a", "x", "1", [0, undefined]),
      get("b", "x", "1", [10, 20]),
      get("b", "x", undefined, [30, 40]),
    ]);
    expect(result.ok).toBe(false);
  });

  it("a cas that reports success against a value that was not there", () => {
    const result = checkKvHistory([
      put("a", "x", "1", [0, 10]),
      cas("b", "x", "0", "2", true, [20, 30]),
    ]);
    expect(result.ok).toBe(false);
  });

  it("a read of a deleted key that still sees the old value", () => {
    const result = checkKvHistory([
      put("a", "x", "1", [0, 10]),
      del("a", "x", [20, 30]),
      get("b", "x", "1", [40, 50]),
    ]);
    expect(result.ok).toBe(false);
  });

  it("reports the failing key among independent keys (P-compositionality)", () => {
    const result = checkKvHistory([
      put("a", "y", "1", [0, 10]),
      get("b", "y", "1", [20, 30]),
      put("a", "x", "1", [0, 10]),
      get("b", "x", "2", [20, 30]),
    ]);
    expect(result.ok).toBe(false);
    if (result.ok === false) expect(result.key).toBe("x");
  });
});

describe("linearizability checker: linearizable histories pass", () => {
  it("a read overlapping a write may see the old or the new value", () => {
    expect(checkKvHistory([put("a", "x", "1", [0, 50]), get("b", "x", "1", [10, 20])]).ok).toBe(
      true,
    );
    expect(
      checkKvHistory([put("a", "x", "1", [0, 50]), get("b", "x", undefined, [10, 20])]).ok,
    ).toBe(true);
  });

  it("two overlapping writes may take effect in either order", () => {
    const writes = [put("a", "x", "1", [0, 50]), put("b", "x", "2", [10, 60])];
    expect(checkKvHistory([...writes, get("c", "x", "1", [70, 80])]).ok).toBe(true);
    expect(checkKvHistory([...writes, get("c", "x", "2", [70, 80])]).ok).toBe(true);
  });

  it("a pending write that took effect", () => {
    expect(
      checkKvHistory([put("a", "x", "1", [0, undefined]), get("b", "x", "1", [100, 110])]).ok,
    ).toBe(true);
  });

  it("a pending write that never took effect", () => {
    expect(
      checkKvHistory([
        put("a", "x", "1", [0, undefined]),
        get("b", "x", undefined, [100, 110]),
        get("b", "x", undefined, [200, 210]),
      ]).ok,
    ).toBe(true);
  });

  it("a pending write that took effect late, after other reads", () => {
    expect(
      checkKvHistory([
        put("a", "x", "1", [0, undefined]),
        get("b", "x", undefined, [100, 110]),
        put("c", "x", "2", [120, 130]),
        get("b", "x", "1", [200, 210]),
      ]).ok,
    ).toBe(true);
  });

  it("cas successes and failures consistent with one order", () => {
    expect(
      checkKvHistory([
        cas("a", "x", undefined, "1", true, [0, 10]),
        cas("b", "x", undefined, "2", false, [5, 15]),
        cas("b", "x", "1", "3", true, [20, 30]),
        get("c", "x", "3", [40, 50]),
      ]).ok,
    ).toBe(true);
  });

  it("an empty history", () => {
    expect(checkKvHistory([]).ok).toBe(true);
  });
});

describe("linearizability checker: search budget", () => {
  it("answers unknown, not a verdict, when the step budget runs out", () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 14; i++) history.push(put(`c${i}`, "x", String(i), [0, 1000]));
    history.push(get("r", "x", "never", [2000, 2010]));
    const result = checkKvHistory(history, { maxSteps: 100 });
    expect(result.ok).toBe("unknown");
  });

  it("memoization keeps many concurrent identical writes cheap", () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 40; i++) history.push(put(`c${i}`, "x", "same", [0, 1000]));
    history.push(get("r", "x", "other", [2000, 2010]));
    const result = checkKvHistory(history, { maxSteps: 100_000 });
    expect(result.ok).toBe(false);
  });
});

// A history produced by a sequential run with linearization points at 10·i, each operation's
// interval stretched around its point: real-time overlaps that respect the true order.
interface PlannedOp {
  kind: "put" | "get" | "delete" | "cas";
  key: string;
  value: string;
  expectCurrent: boolean;
  callSlack: number;
  returnSlack: number;
  pending: boolean;
  tookEffect: boolean;
}

const plannedOp = fc.record({
  kind: fc.constantFrom("put", "get", "delete", "cas") as fc.Arbitrary<PlannedOp["kind"]>,
  key: fc.constantFrom("a", "b", "c"),
  value: fc.constantFrom("1", "2", "3", "4"),
  expectCurrent: fc.boolean(),
  callSlack: fc.integer({ min: 0, max: 35 }),
  returnSlack: fc.integer({ min: 0, max: 35 }),
  pending: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  tookEffect: fc.boolean(),
});

function runSequential(plan: PlannedOp[]): KvOperation[] {
  const store = new Map<string, string>();
  const history: KvOperation[] = [];
  plan.forEach((p, i) => {
    const point = 10 * (i + 1);
    const span: Span = [point - p.callSlack, p.pending ? undefined : point + p.returnSlack];
    const current = store.get(p.key);
    const applies = !p.pending || p.tookEffect;
    switch (p.kind) {
      case "put":
        if (applies) store.set(p.key, p.value);
        history.push(put(`c${i}`, p.key, p.value, span));
        break;
      case "delete":
        if (applies) store.delete(p.key);
        history.push(del(`c${i}`, p.key, span));
        break;
      case "get":
        history.push(get(`c${i}`, p.key, p.pending ? undefined : current, span));
        break;
      case "cas": {
        const expected = p.expectCurrent ? current : p.value;
        const ok = current === expected;
        if (applies && ok) store.set(p.key, `${p.value}'`);
        history.push(
          cas(`c${i}`, p.key, expected, `${p.value}'`, p.pending ? undefined : ok, span),
        );
        break;
      }
    }
  });
  return history;
}

describe("linearizability checker: properties", () => {
  it("accepts every history of a sequential run with order-respecting overlaps", () => {
    fc.assert(
      fc.property(fc.array(plannedOp, { minLength: 0, maxLength: 80, size: "max" }), (plan) => {
        const result = checkKvHistory(runSequential(plan), { maxSteps: 5_000_000 });
        expect(result).toEqual({ ok: true });
      }),
      { numRuns: 300 },
    );
  });

  it("rejects the same history once a read's output is changed to a never-written value", () => {
    fc.assert(
      fc.property(
        fc.array(plannedOp, { minLength: 1, maxLength: 80, size: "max" }),
        fc.nat(),
        (plan, pick) => {
          const history = runSequential(plan);
          const reads = history.filter((op) => op.op === "get" && op.returnMs !== undefined);
          fc.pre(reads.length > 0);
          const victim = reads[pick % reads.length]!;
          const mutated = history.map((op) =>
            op === victim ? { ...op, output: "never-written" } : op,
          ) as KvOperation[];
          const result = checkKvHistory(mutated, { maxSteps: 5_000_000 });
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
