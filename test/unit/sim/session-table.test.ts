import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SessionTable } from "../../../raft/session/session-table.ts";

const limits = { maxSessions: 3, sessionTtlMs: 1000 };

describe("client sessions (Raft dissertation §6.3)", () => {
  it("applies a new seq once and answers its retry from the cache", () => {
    const table = new SessionTable<string>(limits);
    const id = table.register(7, 0);
    let applied = 0;
    const run = () => `r${++applied}`;
    expect(table.apply(id, 1, 10, run)).toEqual({ status: "applied", result: "r1" });
    expect(table.apply(id, 1, 20, run)).toEqual({ status: "duplicate", result: "r1" });
    expect(applied).toBe(1);
    expect(table.apply(id, 2, 30, run)).toEqual({ status: "applied", result: "r2" });
    expect(table.apply(id, 1, 40, run)).toEqual({ status: "stale" });
    expect(applied).toBe(2);
  });

  it("rejects a gap in the sequence instead of applying out of order", () => {
    const table = new SessionTable<string>(limits);
    const id = table.register(1, 0);
    expect(table.apply(id, 2, 0, () => "x")).toEqual({ status: "outOfOrder", expectedSeq: 1 });
  });

  it("refuses commands of an unknown session rather than applying them", () => {
    const table = new SessionTable<string>(limits);
    expect(table.apply(99, 1, 0, () => "x")).toEqual({ status: "sessionExpired" });
  });

  it("expires idle sessions by entry timestamps, not by a clock", () => {
    const table = new SessionTable<string>(limits);
    const a = table.register(1, 0);
    const b = table.register(2, 0);
    table.apply(b, 1, 900, () => "b1");
    // Time is the entry's timestamp: a is idle for 1001 ms when this entry applies.
    table.apply(b, 2, 1001, () => "b2");
    expect(table.has(a)).toBe(false);
    expect(table.has(b)).toBe(true);
    expect(table.apply(a, 1, 1001, () => "a1")).toEqual({ status: "sessionExpired" });
  });

  it("time never moves backwards when a later entry carries an older timestamp", () => {
    const table = new SessionTable<string>(limits);
    const a = table.register(1, 5000);
    table.apply(a, 1, 100, () => "a1");
    expect(table.snapshot().nowMs).toBe(5000);
  });

  it("evicts the least recently active session beyond maxSessions", () => {
    const table = new SessionTable<string>(limits);
    const a = table.register(1, 0);
    const b = table.register(2, 1);
    const c = table.register(3, 2);
    table.apply(a, 1, 3, () => "a1"); // a is now the most recent
    table.register(4, 4);
    expect(table.size).toBe(3);
    expect(table.has(b)).toBe(false);
    expect(table.has(a)).toBe(true);
    expect(table.has(c)).toBe(true);
  });

  it("snapshot and restore preserve decisions", () => {
    const table = new SessionTable<string>(limits);
    const a = table.register(1, 0);
    table.apply(a, 1, 1, () => "a1");
    const copy = SessionTable.restore(table.snapshot(), limits);
    expect(copy.apply(a, 1, 2, () => "again")).toEqual({ status: "duplicate", result: "a1" });
  });

  it("property: retried commands delivered in any duplicated order apply exactly once", () => {
    // Each client sends seq 1..n, retrying each some times; deliveries of one client stay in
    // order of first send, but retries of the current seq may repeat (a client has one
    // outstanding command). Two replicas fed the same log agree.
    const client = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(fc.array(client, { minLength: 1, maxLength: 5 }), fc.nat(), (clients, seed) => {
        const log: [number, number][] = [];
        const cursors = clients.map(() => 0);
        const retries = clients.map((c) => c.map((r) => r));
        let s = seed;
        for (;;) {
          const live = clients.map((_, i) => i).filter((i) => cursors[i]! < clients[i]!.length);
          if (live.length === 0) break;
          s = (s * 1103515245 + 12345) >>> 0;
          const i = live[s % live.length]!;
          log.push([i, cursors[i]! + 1]);
          if (--retries[i]![cursors[i]!]! === 0) cursors[i]!++;
        }
        const replicas = [new SessionTable<number>(), new SessionTable<number>()];
        const outcomes = replicas.map((table) => {
          const ids = clients.map((_, i) => table.register(i + 1, 0));
          const counts = new Map<string, number>();
          const results = log.map(([i, seq], t) =>
            table.apply(ids[i]!, seq, t, () => {
              const k = `${i}/${seq}`;
              counts.set(k, (counts.get(k) ?? 0) + 1);
              return t;
            }),
          );
          for (const n of counts.values()) expect(n).toBe(1);
          expect(counts.size).toBe(clients.reduce((sum, c) => sum + c.length, 0));
          return results;
        });
        expect(outcomes[0]).toEqual(outcomes[1]);
      }),
    );
  });

  it("property: the table never exceeds maxSessions", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 5000 }), { maxLength: 50 }), (times) => {
        const table = new SessionTable<number>(limits);
        times.forEach((t, i) => {
          table.register(i + 1, t);
          expect(table.size).toBeLessThanOrEqual(limits.maxSessions);
        });
      }),
    );
  });
});
