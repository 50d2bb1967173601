import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPACT_REV_KEY } from "../../../actors/apiserver/compactor.ts";
import type { WatchResponse } from "../../../raft/mvcc/watch-hub.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * Three real servers started with a short `--compaction-interval` (through `bosun up`): their
 * compactors agree through the coordination key and compact the store's history, so an old
 * revision is gone while the latest values stay.
 */
const enc = (s: string) => Buffer.from(s);
const dec = (b: Uint8Array) => Buffer.from(b).toString();
const INTERVAL = "1s";
let local: LocalCluster;

beforeAll(async () => {
  local = await LocalCluster.start(3, ["--compaction-interval", INTERVAL]);
  await local.connectClient();
});

afterAll(async () => {
  await local?.stop();
});

describe("store compaction by the servers' compactors", () => {
  it("compacts history older than an interval and keeps the latest values", async () => {
    const client = local.client!.storeClient();
    let firstRound = 0;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) {
        const put = await client.put(enc(`c/${i}`), enc(`round ${round}`));
        if (round === 0) firstRound = put.header.revision;
      }
    }

    const refusal = await waitFor(
      "a watch from our first round of writes to be refused as compacted",
      async () => {
        const responses: WatchResponse[] = [];
        const handle = await client.watch(
          { key: enc("c/"), rangeEnd: enc("c/\xff"), startRevision: firstRound },
          (r) => responses.push(r),
        );
        try {
          // the first response to a watch from the past: a replay, or the refusal
          const first = await waitFor("the watch's first response", () => responses[0], 5_000);
          return first.kind === "canceled" && first.reason === "compacted" ? first : undefined;
        } finally {
          handle.cancel();
        }
      },
      60_000,
      200,
    );
    expect(refusal.compactRevision).toBeGreaterThanOrEqual(firstRound);
    await expect(client.range({ key: enc("c/0"), revision: firstRound - 1 })).rejects.toThrow(
      /compacted/,
    );

    const latest = await client.range({ key: enc("c/"), rangeEnd: enc("c/\xff") });
    expect(latest.count).toBe(20);
    expect(latest.kvs.every((kv) => dec(kv.value) === "round 2")).toBe(true);
    expect(latest.kvs.every((kv) => kv.version === 3)).toBe(true);

    // the servers took turns through the key: one claim per winner, and it keeps counting
    const key = await client.range({ key: enc(COMPACT_REV_KEY) });
    expect(key.kvs[0]?.version ?? 0).toBeGreaterThanOrEqual(2);
    expect(Number(dec(key.kvs[0]?.value ?? Buffer.alloc(0)))).toBeGreaterThan(0);
    // exactly one server compacted each time: no revision was compacted twice
    const compacted = local.cluster.nodes.flatMap((n) =>
      readFileSync(n.logFile, "utf8")
        .split("\n")
        .filter((line) => line.includes("compacted the store's history"))
        .map((line) => (JSON.parse(line) as { revision: number }).revision),
    );
    expect(compacted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(compacted).size).toBe(compacted.length);
  });
});
