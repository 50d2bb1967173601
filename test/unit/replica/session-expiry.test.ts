import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { SkewedClock } from "../../../actors/system/skewed-clock.ts";
import { SessionExpiry } from "../../../raft/replica/session-expiry.ts";
import { InProcessCluster } from "./cluster-harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("SessionExpiry (which sessions a leader expires)", () => {
  it("a session is due only after its seq has stayed put for the TTL, from the first look", () => {
    const e = new SessionExpiry(1_000, 10);
    expect(e.due([[1, 0]], 0)).toEqual([]);
    expect(e.due([[1, 0]], 999)).toEqual([]);
    expect(e.due([[1, 0]], 1_000)).toEqual([[1, 0]]);
    // a write moved its seq: idle again from this look
    expect(e.due([[1, 1]], 1_500)).toEqual([]);
    expect(e.due([[1, 1]], 2_499)).toEqual([]);
    expect(e.due([[1, 1]], 2_500)).toEqual([[1, 1]]);
    // a new leader (reset) counts from its own first look, never from before
    e.reset();
    expect(e.due([[1, 1]], 10_000)).toEqual([]);
    expect(e.due([[1, 1]], 10_999)).toEqual([]);
    expect(e.due([[1, 1]], 11_000)).toEqual([[1, 1]]);
  });

  it("proposes at most its bound, longest idle first, and forgets sessions gone", () => {
    const e = new SessionExpiry(100, 2);
    e.due([[3, 0]], 0);
    e.due(
      [
        [3, 0],
        [1, 0],
        [2, 0],
      ],
      50,
    );
    expect(
      e.due(
        [
          [3, 0],
          [1, 0],
          [2, 0],
        ],
        200,
      ),
    ).toEqual([
      [3, 0],
      [1, 0],
    ]);
    // 3 dropped by the state machine; it comes back as a new session (same id after a restore)
    e.due([[1, 0]], 210);
    expect(e.due([[3, 0]], 300)).toEqual([]);
  });

  it("never names a session sooner than the TTL after the look that saw its seq change", () => {
    const step = fc.record({
      advanceMs: fc.integer({ min: 0, max: 400 }),
      bump: fc.subarray([1, 2, 3, 4]),
      reset: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const ttl = 1_000;
        const e = new SessionExpiry(ttl, 100);
        const seq = new Map([1, 2, 3, 4].map((id) => [id, 0]));
        const changedAt = new Map([1, 2, 3, 4].map((id) => [id, 0]));
        let now = 0;
        for (const s of steps) {
          now += s.advanceMs;
          if (s.reset) {
            e.reset();
            for (const id of changedAt.keys()) changedAt.set(id, now);
          }
          for (const id of s.bump) {
            seq.set(id, (seq.get(id) ?? 0) + 1);
            changedAt.set(id, now);
          }
          for (const [id, at] of e.due([...seq], now)) {
            expect(at).toBe(seq.get(id));
            expect(now - (changedAt.get(id) ?? 0)).toBeGreaterThanOrEqual(ttl);
          }
        }
      }),
    );
  });
});

describe("session expiry in a replicated store, in process", () => {
  let cluster: InProcessCluster | undefined;
  afterEach(() => {
    cluster?.stop();
    cluster = undefined;
  });

  async function startCluster(sessionTtlMs: number): Promise<InProcessCluster> {
    cluster = new InProcessCluster(
      ["n1", "n2", "n3"],
      {},
      { sessionLimits: { maxSessions: 100, sessionTtlMs } },
    );
    await cluster.start();
    const c = cluster;
    await c.runUntil("a leader", () => c.leader() !== undefined);
    return c;
  }

  it("a member whose wall clock stepped an hour ahead expires nobody else's session", async () => {
    const c = await startCluster(60_000);
    const steady = c.client("c1");
    const skewed = new SkewedClock(c.clock);
    skewed.set({ rate: 1, wallOffsetMs: 3_600_000 });
    const ahead = c.client("c2", skewed);
    await c.await(steady.put(enc("a"), enc("1")));
    await c.await(ahead.put(enc("b"), enc("1")));
    // with expiry by entry stamps, c2's hour-ahead stamp had made c1's session an hour idle
    await c.await(steady.put(enc("a"), enc("2")));
    expect(c.leader()?.store.sessionLastSeqs().length).toBe(2);
  });

  it("an idle session expires on every member after its TTL of the leader's time; a busy one stays", async () => {
    const c = await startCluster(2_000);
    const idle = c.client("c1");
    const busy = c.client("c2");
    await c.await(idle.put(enc("i"), enc("1")));
    await c.await(busy.put(enc("b"), enc("0")));
    const idleId = c.leader()?.store.sessionLastSeqs()[0]?.[0];
    expect(idleId).toBeDefined();
    const held = (id: number | undefined) =>
      [...c.servers.values()].filter((s) => s.store.sessionLastSeqs().some(([k]) => k === id));
    for (let i = 1; i <= 12; i++) {
      await c.runUntil("500 ms", () => false, 500).catch(() => undefined);
      await c.await(busy.put(enc("b"), enc(String(i))));
    }
    // six seconds: more than the TTL plus a check interval (TTL/4) for the idle one
    expect(held(idleId)).toEqual([]);
    const busyIds = c.leader()?.store.sessionLastSeqs() ?? [];
    expect(busyIds.length).toBe(1);
    expect(held(busyIds[0]?.[0]).length).toBe(3);
    // its client learns the fate of its next write is unknown, then goes on with a new session
    await expect(c.await(idle.put(enc("i"), enc("2")))).rejects.toThrow(/session expired/);
    await c.await(idle.put(enc("i"), enc("3")));
  });
});
