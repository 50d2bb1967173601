import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RangeResponse } from "../../../raft/mvcc/responses.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * Three real server processes with their logs and stores in RocksDB: the leader is killed with
 * SIGKILL, writes go on, and the old leader comes back and catches up — by log replay first,
 * then (after compaction) by snapshot.
 */
const enc = (s: string) => Buffer.from(s);
const dec = (b: Uint8Array) => Buffer.from(b).toString();
let local: LocalCluster;

beforeAll(async () => {
  local = await LocalCluster.start(3, ["--snapshot-entries", "100"]);
  await local.connectClient();
});

afterAll(async () => {
  await local?.stop();
});

/** Every key under `prefix` on one server's own replica (a serializable read there). */
async function keysOn(server: string, prefix: string): Promise<Map<string, string>> {
  const r = await local.client!.system.ask<RangeResponse>(
    local.client!.system.address("test"),
    `${server}/store`,
    "kv.range",
    { request: { key: enc(prefix), rangeEnd: enc(`${prefix}\xff`) }, serializable: true },
  );
  return new Map(r.kvs.map((kv) => [dec(kv.key), dec(kv.value)]));
}

describe("store failover with real processes", () => {
  it("leader killed: a new leader is elected, writes continue, the old leader catches up", async () => {
    const client = local.client!.storeClient();
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      await client.put(enc(`f/${i}`), enc(`v${i}`));
      acked.push(`f/${i}`);
    }
    const old = await local.leader();
    local.kill(old);
    for (let i = 20; i < 40; i++) {
      await client.put(enc(`f/${i}`), enc(`v${i}`)); // retried across the failover, exactly once
      acked.push(`f/${i}`);
    }
    const next = await local.leader([old]);
    expect(next).not.toBe(old);
    await local.restart(old);
    const leaderRaft = await local.raft(next);
    await waitFor("the old leader to catch up", async () => {
      const r = await local.raft(old);
      return r.applied >= leaderRaft.commit;
    });
    for (const server of local.cluster.nodes.map((n) => n.id)) {
      const keys = await keysOn(server, "f/");
      expect([...keys.keys()].sort()).toEqual([...acked].sort());
      expect(keys.get("f/39")).toBe("v39");
    }
    // each write applied once: 40 puts to 40 distinct keys, each at version 1
    const all = await client.range({ key: enc("f/"), rangeEnd: enc("f/\xff") });
    expect(all.kvs.every((kv) => kv.version === 1)).toBe(true);
  });

  it("a follower down through a compaction catches up by snapshot", async () => {
    const leader = await local.leader();
    const follower = local.cluster.nodes.map((n) => n.id).find((id) => id !== leader)!;
    local.kill(follower);
    await local.waitDead(follower);
    // More writes than the leader's in-flight window (256 appends) can carry to the dead
    // follower: what it cannot get from the transport's queue on restart has been compacted.
    const writers = [0, 1, 2, 3].map(() => local.client!.storeClient());
    await Promise.all(
      writers.map(async (client, w) => {
        for (let i = 0; i < 150; i++) {
          await client.put(enc(`s/${w}/${i % 10}`), enc(`round ${Math.floor(i / 10)}`));
        }
      }),
    );
    const raft = await local.raft(leader);
    expect(raft.firstIndex).toBeGreaterThan(1); // the leader compacted its log
    await local.restart(follower);
    await waitFor(
      "the follower to catch up",
      async () => (await local.raft(follower)).applied >= raft.commit,
    );
    const caughtUp = await local.raft(follower);
    expect(
      caughtUp.snapshotsInstalled,
      JSON.stringify({ leader: raft, follower: caughtUp }),
    ).toBeGreaterThanOrEqual(1);
    const keys = await keysOn(follower, "s/");
    expect(keys.size).toBe(40);
    expect(keys.get("s/3/9")).toBe("round 14");
  });

  it("a watch from a revision across a leader change delivers every event once, in order", async () => {
    const client = local.client!.storeClient();
    const first = await client.put(enc("w/start"), enc("0"));
    const seen: number[] = [];
    const handle = await client.watch(
      { key: enc("w/"), rangeEnd: enc("w/\xff"), startRevision: first.header.revision },
      (r) => {
        if (r.kind === "events") for (const e of r.events) seen.push(e.kv.modRevision);
      },
    );
    const revisions = [first.header.revision];
    for (let i = 0; i < 10; i++)
      revisions.push((await client.put(enc(`w/${i}`), enc("a"))).header.revision);
    const leader = await local.leader();
    local.kill(leader);
    for (let i = 10; i < 20; i++)
      revisions.push((await client.put(enc(`w/${i}`), enc("b"))).header.revision);
    await waitFor("all 21 events", () => seen.length >= revisions.length || undefined).catch(
      (e: Error) => {
        throw new Error(
          `${e.message}: saw ${JSON.stringify(seen)}, wanted ${JSON.stringify(revisions)}`,
        );
      },
    );
    expect(seen).toEqual(revisions);
    handle.cancel();
    await local.restart(leader);
  });
});
