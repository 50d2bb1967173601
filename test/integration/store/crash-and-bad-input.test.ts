import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseUrl } from "../../../cmd/cluster-file.ts";
import type { RangeResponse } from "../../../raft/mvcc/responses.ts";
import type { WatchResponse } from "../../../raft/mvcc/watch-hub.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/** kill -9 in the middle of a write burst; then oversized input and a corrupted store file. */
const enc = (s: string) => Buffer.from(s);
let local: LocalCluster;

beforeAll(async () => {
  local = await LocalCluster.start(3);
  await local.connectClient();
});

afterAll(async () => {
  await local?.stop();
});

/** The whole keyspace as `server` has it applied, at `revision` (default: its latest). */
async function everything(server: string, revision?: number): Promise<RangeResponse> {
  return local.client!.system.ask<RangeResponse>(
    local.client!.system.address("test"),
    `${server}/store`,
    "kv.range",
    {
      request: { key: enc("\0"), rangeEnd: enc("\0"), ...(revision ? { revision } : {}) },
      serializable: true,
    },
  );
}

describe("crash recovery and bad input", () => {
  it("a server killed in the middle of a write burst recovers to exactly the others' state", async () => {
    const leader = await local.leader();
    const victim = local.cluster.nodes.map((n) => n.id).find((id) => id !== leader)!;
    const writers = [0, 1, 2, 3].map(() => local.client!.storeClient());
    const acked: string[] = [];
    let killed = false;
    await Promise.all(
      writers.map(async (client, w) => {
        for (let i = 0; i < 60; i++) {
          await client.put(enc(`burst/${w}/${i}`), enc("x"));
          acked.push(`burst/${w}/${i}`);
          if (!killed && acked.length === 100) {
            killed = true;
            local.kill(victim); // writes are in flight on every writer right now
          }
        }
      }),
    );
    await local.restart(victim);
    // Compared at one revision: the API servers' Lease renewals keep writing meanwhile.
    const theirs = await everything(leader);
    const revision = theirs.header.revision;
    await waitFor(
      "the victim to catch up",
      async () => (await everything(victim)).header.revision >= revision,
    );
    const mine = await everything(victim, revision);
    expect(mine.kvs).toEqual(theirs.kvs);
    const keys = new Set(mine.kvs.map((kv) => kv.key.toString()));
    expect(acked.filter((k) => !keys.has(k))).toEqual([]);
  });

  it("oversized keys and values are refused with a clear error and nothing is written", async () => {
    const client = local.client!.storeClient();
    const before = (await client.range({ key: enc("big/"), rangeEnd: enc("big0") })).header
      .revision;
    const bigValue = await client.put(enc("big/value"), Buffer.alloc(2 * 1024 * 1024, 1));
    expect(bigValue).toMatchObject({ kind: "error", error: "value too large" });
    const bigKey = await client.put(Buffer.alloc(8 * 1024, 97), enc("v"));
    expect(bigKey).toMatchObject({ kind: "error", error: "key too large" });
    await expect(client.put(enc("big/frame"), Buffer.alloc(5 * 1024 * 1024, 1))).rejects.toThrow(
      /exceeds/,
    );
    // over HTTP too, with a 400 that says why
    const node = local.cluster.nodes[0]!;
    const res = await fetch(`${baseUrl(node)}/kv/put`, {
      method: "POST",
      headers: { authorization: `Bearer ${local.cluster.token}` },
      body: JSON.stringify({ key: "big/http", value: "v".repeat(2 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    const after = await client.range({ key: enc("big/"), rangeEnd: enc("big0") });
    expect(after.kvs).toEqual([]);
    // the cluster keeps serving
    expect((await client.put(enc("big/small"), enc("ok"))).kind).toBe("put");
    // Nothing refused was written at any revision since: replaying big/ from `before` shows the
    // small put first. (The store's revision itself moves on: API servers renew their Leases.)
    const replay: WatchResponse[] = [];
    const handle = await client.watch(
      { key: enc("big/"), rangeEnd: enc("big0"), startRevision: before + 1 },
      (r) => replay.push(r),
    );
    try {
      const first = await waitFor("the replay of big/", () =>
        replay.find((r) => r.kind === "events"),
      );
      expect(first.kind === "events" && first.events.map((e) => e.kv.key.toString())).toEqual([
        "big/small",
      ]);
    } finally {
      handle.cancel();
    }
  });

  it("a corrupted store file makes the node refuse to start, naming the file", async () => {
    const victim = local.cluster.nodes[2]!;
    local.kill(victim.id, "SIGTERM");
    await local.waitDead(victim.id);
    const dir = join(victim.dataDir, "raft");
    const current = readFileSync(join(dir, "CURRENT"), "utf8").trim();
    const manifest = join(dir, current);
    const bytes = readFileSync(manifest);
    for (let i = 8; i < bytes.length; i += 7) bytes[i] = (bytes[i] as number) ^ 0xff;
    writeFileSync(manifest, bytes);
    const flags = [
      "node",
      "--id",
      victim.id,
      "--listen",
      `${victim.host}:${victim.port}`,
      "--data-dir",
      victim.dataDir,
    ];
    flags.push(
      "--token-file",
      join(local.runDir, "token"),
      "--servers",
      "n1,n2,n3",
      "--log-level",
      "fatal",
    );
    const started = await runBosun(flags);
    expect(started.code).not.toBe(0);
    expect(started.stderr).toContain(current);
    expect(readdirSync(dir)).toContain(current); // nothing was "repaired" behind our back
  });
});
