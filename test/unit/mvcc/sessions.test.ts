/** Client sessions (dissertation §6.3) applied alongside the store: a retried proposal is not re-applied. */
import { describe, expect, it } from "vitest";
import type { CommandEnvelope } from "../../../raft/mvcc/commands.ts";
import { b, Driver } from "./harness.ts";

describe("session de-duplication", () => {
  async function registered(): Promise<[Driver, number]> {
    const d = await Driver.memory();
    const r = await d.run({ op: "registerSession", nowMs: 1_000 });
    if (r.kind !== "registerSession") throw new Error("register failed");
    return [d, r.clientId];
  }

  it("a retry (same clientId and seq) returns the cached response and changes nothing", async () => {
    const [d, clientId] = await registered();
    const env: CommandEnvelope = {
      command: { op: "put", key: b("k"), value: b("v"), prevKv: true },
      session: { clientId, seq: 1, nowMs: 1_100 },
    };
    const first = await d.store.apply(2, env);
    expect(first).toMatchObject({
      status: "applied",
      response: { kind: "put", header: { revision: 2 } },
    });
    const retry = await d.store.apply(3, { ...env, session: { clientId, seq: 1, nowMs: 1_200 } });
    expect(retry.status).toBe("duplicate");
    expect(retry.status === "duplicate" && retry.response).toEqual(
      first.status === "applied" && first.response,
    );
    expect(d.store.currentRevision).toBe(2);
    expect(await d.get("k")).toMatchObject({ version: 1 });
  });

  it("the cache survives a reopen: a retry after restart is still a duplicate", async () => {
    const [d, clientId] = await registered();
    await d.store.apply(2, {
      command: { op: "put", key: b("k"), value: b("v") },
      session: { clientId, seq: 1, nowMs: 1_100 },
    });
    await d.reopen();
    const retry = await d.store.apply(3, {
      command: { op: "put", key: b("k"), value: b("v") },
      session: { clientId, seq: 1, nowMs: 1_200 },
    });
    expect(retry).toMatchObject({
      status: "duplicate",
      response: { kind: "put", header: { revision: 2 } },
    });
    expect(await d.get("k")).toMatchObject({ version: 1 });
  });

  it("stale, out-of-order and unknown sessions are not applied", async () => {
    const [d, clientId] = await registered();
    const put = (seq: number, id = clientId) => ({
      command: { op: "put" as const, key: b("k"), value: b(`${seq}`) },
      session: { clientId: id, seq, nowMs: 1_100 },
    });
    await d.store.apply(2, put(1));
    await d.store.apply(3, put(2));
    expect(await d.store.apply(4, put(1))).toEqual({ index: 4, status: "stale" });
    expect(await d.store.apply(5, put(9))).toEqual({
      index: 5,
      status: "outOfOrder",
      expectedSeq: 3,
    });
    expect(await d.store.apply(6, put(1, 12345))).toEqual({ index: 6, status: "sessionExpired" });
    expect(await d.get("k")).toMatchObject({ value: "2", version: 2 });
  });

  it("entry stamps expire nothing; expireSessions drops the idle ones it names, persisted", async () => {
    const d = await Driver.memory({ sessionLimits: { maxSessions: 10, sessionTtlMs: 1_000 } });
    const a = await d.run({ op: "registerSession", nowMs: 0 });
    const bb = await d.run({ op: "registerSession", nowMs: 900 });
    if (a.kind !== "registerSession" || bb.kind !== "registerSession")
      throw new Error("register failed");
    // b's stamp an hour ahead (a member whose wall clock stepped) leaves a's session alone
    await d.store.apply(3, {
      command: { op: "put", key: b("x"), value: b("1") },
      session: { clientId: bb.clientId, seq: 1, nowMs: 3_600_000 },
    });
    expect(d.store.sessionLastSeqs()).toEqual([
      [a.clientId, 0],
      [bb.clientId, 1],
    ]);
    // the leader saw a idle at seq 0 and b at seq 0; b has written since, so only a goes
    const expired = await d.store.apply(4, {
      command: {
        op: "expireSessions",
        sessions: [
          [a.clientId, 0],
          [bb.clientId, 0],
        ],
      },
    });
    expect(expired).toMatchObject({ status: "applied", response: { expired: [a.clientId] } });
    await d.reopen({ sessionLimits: { maxSessions: 10, sessionTtlMs: 1_000 } });
    expect(
      await d.store.apply(5, {
        command: { op: "put", key: b("y"), value: b("1") },
        session: { clientId: a.clientId, seq: 1, nowMs: 1_800 },
      }),
    ).toMatchObject({
      status: "sessionExpired",
    });
    expect(
      await d.store.apply(6, {
        command: { op: "put", key: b("x"), value: b("1") },
        session: { clientId: bb.clientId, seq: 1, nowMs: 1_800 },
      }),
    ).toMatchObject({
      status: "duplicate",
    });
  });

  it("refuses a malformed expireSessions and changes nothing", async () => {
    const d = await Driver.memory();
    const a = await d.run({ op: "registerSession", nowMs: 0 });
    if (a.kind !== "registerSession") throw new Error("register failed");
    for (const sessions of [[[a.clientId]], [[a.clientId, -1]], "x", [[1.5, 0]]]) {
      const r = await d.run({ op: "expireSessions", sessions } as never);
      expect(r).toMatchObject({ kind: "error" });
    }
    expect(d.store.sessionLastSeqs()).toEqual([[a.clientId, 0]]);
  });
});
