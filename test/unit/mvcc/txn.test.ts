/** Txn compares (etcd's Compare: value, version, createRevision, modRevision, lease) and branches. */
import { describe, expect, it } from "vitest";
import type { Compare, CompareResult } from "../../../raft/mvcc/commands.ts";
import { b, Driver } from "./harness.ts";

async function setup(): Promise<Driver> {
  const d = await Driver.memory();
  await d.run({ op: "leaseGrant", id: 5, ttlMs: 60_000, nowMs: 0 });
  await d.put("k", "m", { lease: 5 }); // rev 2: create 2, mod 2, version 1, lease 5
  await d.put("k", "m"); // rev 3: version 2, lease 0
  await d.put("k", "m", { lease: 5 }); // rev 4: version 3, lease 5
  return d;
}

async function holds(d: Driver, compare: Compare): Promise<boolean> {
  const r = await d.run({
    op: "txn",
    compare: [compare],
    success: [{ op: "range", key: b("k") }],
    failure: [],
  });
  if (r.kind !== "txn") throw new Error(`txn failed: ${JSON.stringify(r)}`);
  return r.succeeded;
}

const numeric = [
  ["version", 3],
  ["createRevision", 2],
  ["modRevision", 4],
  ["lease", 5],
] as const;

describe("txn compares", () => {
  for (const [target, actual] of numeric) {
    it(`${target}: = != < > against the key's ${target} (${actual})`, async () => {
      const d = await setup();
      const cmp = (result: CompareResult, operand: number): Compare => ({
        target,
        key: b("k"),
        result,
        operand,
      });
      expect(await holds(d, cmp("=", actual))).toBe(true);
      expect(await holds(d, cmp("=", actual + 1))).toBe(false);
      expect(await holds(d, cmp("!=", actual + 1))).toBe(true);
      expect(await holds(d, cmp("!=", actual))).toBe(false);
      expect(await holds(d, cmp("<", actual + 1))).toBe(true);
      expect(await holds(d, cmp("<", actual))).toBe(false);
      expect(await holds(d, cmp(">", actual - 1))).toBe(true);
      expect(await holds(d, cmp(">", actual))).toBe(false);
    });
  }

  it("value: bytewise = != < >", async () => {
    const d = await setup();
    const cmp = (result: CompareResult, value: string): Compare => ({
      target: "value",
      key: b("k"),
      result,
      value: b(value),
    });
    expect(await holds(d, cmp("=", "m"))).toBe(true);
    expect(await holds(d, cmp("=", "n"))).toBe(false);
    expect(await holds(d, cmp("!=", "n"))).toBe(true);
    expect(await holds(d, cmp("<", "n"))).toBe(true);
    expect(await holds(d, cmp("<", "l"))).toBe(false);
    expect(await holds(d, cmp(">", "l"))).toBe(true);
    expect(await holds(d, cmp(">", "m"))).toBe(false);
  });

  it("a missing key compares as version/revisions 0; a value compare on it fails", async () => {
    const d = await setup();
    expect(
      await holds(d, { target: "createRevision", key: b("absent"), result: "=", operand: 0 }),
    ).toBe(true);
    expect(await holds(d, { target: "version", key: b("absent"), result: "=", operand: 0 })).toBe(
      true,
    );
    expect(await holds(d, { target: "value", key: b("absent"), result: "!=", value: b("x") })).toBe(
      false,
    );
  });

  it("a compare over a range holds only if it holds for every key", async () => {
    const d = await setup();
    await d.put("k2", "m");
    const cmp = (result: CompareResult, value: string): Compare => ({
      target: "value",
      key: b("k"),
      rangeEnd: b("l"),
      result,
      value: b(value),
    });
    expect(await holds(d, cmp("=", "m"))).toBe(true);
    await d.put("k3", "z");
    expect(await holds(d, cmp("=", "m"))).toBe(false);
  });
});

describe("txn branches", () => {
  it("compare-and-swap on modRevision (Kubernetes' optimistic concurrency): success then failure", async () => {
    const d = await Driver.memory();
    await d.put("/registry/pods/default/p", "v1"); // rev 2
    const cas = (expectedMod: number, value: string) =>
      d.run({
        op: "txn",
        compare: [
          {
            target: "modRevision",
            key: b("/registry/pods/default/p"),
            result: "=",
            operand: expectedMod,
          },
        ],
        success: [{ op: "put", key: b("/registry/pods/default/p"), value: b(value), prevKv: true }],
        failure: [{ op: "range", key: b("/registry/pods/default/p") }],
      });
    const ok = await cas(2, "v2");
    expect(ok).toMatchObject({ kind: "txn", succeeded: true, header: { revision: 3 } });
    expect(ok.kind === "txn" && ok.responses[0]).toMatchObject({
      kind: "put",
      header: { revision: 3 },
    });
    const stale = await cas(2, "v3");
    expect(stale).toMatchObject({ kind: "txn", succeeded: false, header: { revision: 3 } });
    const read = stale.kind === "txn" ? stale.responses[0] : undefined;
    expect(read?.kind === "range" && read.kvs[0]!.value.toString()).toBe("v2");
    expect(read?.kind === "range" && read.kvs[0]!.modRevision).toBe(3);
  });

  it("a range later in a txn sees the txn's earlier writes", async () => {
    const d = await Driver.memory();
    const r = await d.run({
      op: "txn",
      compare: [],
      success: [
        { op: "put", key: b("a"), value: b("1") },
        { op: "range", key: b("a") },
        { op: "deleteRange", key: b("b"), prevKv: true },
      ],
      failure: [],
    });
    expect(r.kind === "txn" && r.responses.map((x) => x.kind)).toEqual([
      "put",
      "range",
      "deleteRange",
    ]);
    const range = r.kind === "txn" ? r.responses[1] : undefined;
    expect(range?.kind === "range" && range.kvs.map((kv) => kv.value.toString())).toEqual(["1"]);
  });

  it("a put in the taken branch with a missing lease fails the whole txn, nothing written", async () => {
    const d = await Driver.memory();
    const r = await d.run({
      op: "txn",
      compare: [],
      success: [
        { op: "put", key: b("a"), value: b("1") },
        { op: "put", key: b("b"), value: b("1"), lease: 42 },
      ],
      failure: [{ op: "put", key: b("c"), value: b("1"), lease: 42 }],
    });
    expect(r).toMatchObject({ kind: "error", error: "lease not found" });
    expect(await d.all()).toEqual([]);
    expect(d.store.currentRevision).toBe(1);
  });
});
