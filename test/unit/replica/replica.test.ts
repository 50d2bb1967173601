import { afterEach, describe, expect, it } from "vitest";
import { InProcessCluster } from "./cluster-harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let cluster: InProcessCluster | undefined;
afterEach(() => {
  cluster?.stop();
  cluster = undefined;
});

async function startCluster(ids = ["n1", "n2", "n3"]) {
  cluster = new InProcessCluster(ids);
  await cluster.start();
  await cluster.runUntil("a leader", () => cluster!.leader() !== undefined);
  return cluster;
}

describe("replicated store, in process", () => {
  it("a write through the client is applied on every replica at the same revision", async () => {
    const c = await startCluster();
    const client = c.client();
    const put = await c.await(client.put(enc("/registry/a"), enc("one")));
    expect(put.kind).toBe("put");
    await c.runUntil("all replicas applied", () =>
      [...c.servers.values()].every((s) => s.store.currentRevision === put.header.revision),
    );
    for (const s of c.servers.values()) {
      const r = await s.store.range({ key: enc("/registry/a") });
      expect(r.kind === "range" && dec(r.kvs[0]!.value)).toBe("one");
    }
  });

  it("a linearizable read through any server sees the latest acknowledged write", async () => {
    const c = await startCluster();
    const client = c.client();
    for (let i = 0; i < 5; i++) await c.await(client.put(enc("k"), enc(`v${i}`)));
    const follower = [...c.servers.values()].find((s) => s.replica.softState().role !== "leader")!;
    const reader = c.client("c2");
    // ask a follower directly: ReadIndex goes through the leader, then waits for local apply
    const r = await c.await(
      reader["system"].ask<{ kvs: { value: Uint8Array }[] }>(
        "c2/t",
        `${follower.id}/store`,
        "kv.range",
        {
          request: { key: enc("k") },
        },
      ),
    );
    expect(dec(r.kvs[0]!.value)).toBe("v4");
  });

  it("the leader fails: a new one is elected and writes continue, each applied exactly once", async () => {
    const c = await startCluster();
    const client = c.client();
    await c.await(client.put(enc("before"), enc("1")));
    const old = c.leader()!;
    c.isolate(old.id);
    await c.runUntil("a new leader", () => {
      const l = c.leader();
      return l !== undefined && l.id !== old.id;
    });
    const put = await c.await(client.put(enc("after"), enc("2")));
    expect(put.kind).toBe("put");
    const survivor = c.leader()!;
    const all = await survivor.store.range({ key: enc("\0"), rangeEnd: enc("\0") });
    expect(all.kind === "range" && all.kvs.map((kv) => dec(kv.key))).toEqual(["after", "before"]);
    // the old leader rejoins and catches up
    c.heal(old.id);
    await c.runUntil(
      "old leader caught up",
      () => old.store.currentRevision === survivor.store.currentRevision,
    );
  });

  it("a retried write (same session seq) after a lost reply is applied once", async () => {
    const c = await startCluster();
    const client = c.client();
    await c.await(client.put(enc("counter"), enc("0")));
    const leader = c.leader()!;
    const before = leader.store.currentRevision;
    // the same envelope proposed twice, as a client retrying after a timeout would
    const envelope = {
      command: { op: "put" as const, key: enc("counter"), value: enc("1") },
      session: { clientId: client["clientId"]!, seq: client["seq"] + 1, nowMs: 0 },
    };
    const first = await c.await(leader.replica.propose(envelope));
    const second = await c.await(leader.replica.propose(envelope));
    expect(first.status).toBe("applied");
    expect(second.status).toBe("duplicate");
    expect(leader.store.currentRevision).toBe(before + 1);
  });

  it("a watch delivers every event once, in order, and resumes on another server", async () => {
    const c = await startCluster();
    const writer = c.client("w1");
    const watcher = c.client("w2");
    const revisions: number[] = [];
    await c.await(
      watcher.watch({ key: enc("w/"), rangeEnd: enc("w0") }, (r) => {
        if (r.kind === "events") revisions.push(...r.events.map((e) => e.kv.modRevision));
      }),
    );
    for (let i = 0; i < 5; i++) await c.await(writer.put(enc(`w/${i}`), enc("x")));
    await c.runUntil("5 events", () => revisions.length === 5);
    // cut off the server serving the watch; the watch moves and misses nothing
    const serving = [...c.servers.values()].find((s) => s.store.watcherCount > 0)!;
    c.isolate(serving.id);
    await c.runUntil("a leader without the serving server", () => {
      const l = c.leader();
      return l !== undefined && l.id !== serving.id;
    });
    for (let i = 5; i < 10; i++) await c.await(writer.put(enc(`w/${i}`), enc("x")));
    await c.runUntil("10 events", () => revisions.length >= 10);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(revisions.length).toBe(10);
  });
});
