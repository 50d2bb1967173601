import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { type ConfState, type Entry, emptyConfState } from "../../../raft/core/messages.ts";
import type { CommandEnvelope } from "../../../raft/mvcc/commands.ts";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { MvccStore } from "../../../raft/mvcc/store.ts";
import { encodeProposal } from "../../../raft/replica/entry-codec.ts";
import { joinStoreSnapshot, Replica } from "../../../raft/replica/replica.ts";
import { MemoryReplicaLog } from "../../../raft/replica/replica-log.ts";

/**
 * A replica restarting on what a crash left: the Raft log and the MVCC store are two databases,
 * synced at different moments, so they may disagree. Found by the replica simulator
 * (raft/sim/replica): these pin down what `Replica.start` must do with each disagreement.
 */
const logger = pino({ level: "silent" });
const conf: ConfState = { ...emptyConfState(), voters: ["n1", "n2", "n3"] };
const enc = (s: string) => Buffer.from(s);

/** Log entry `index` putting `key`, and what the store applies for it. */
function put(
  index: number,
  key: string,
  value: string,
): { entry: Entry; envelope: CommandEnvelope } {
  const envelope: CommandEnvelope = { command: { op: "put", key: enc(key), value: enc(value) } };
  const data = encodeProposal({ requestId: `n1:old:${index}`, envelope });
  return { entry: { index, term: 1, type: "normal", data }, envelope };
}

let replica: Replica | null = null;
afterEach(() => {
  replica?.stop();
  replica = null;
});

function startReplica(log: MemoryReplicaLog, store: MvccStore): Promise<void> {
  const fatal: Error[] = [];
  replica = new Replica({
    system: new ActorSystem({ nodeId: "n1", clock: new ManualClock(), logger }),
    log,
    store,
    logger,
    randomSeed: 1,
    onFatal: (e) => fatal.push(e),
  });
  return replica.start().then(() => {
    if (fatal.length > 0) throw fatal[0];
  });
}

describe("a replica restarting after a crash", () => {
  it("starts when the store applied past the commit index the log kept (an unsynced commit-only hard state lost to a power loss)", async () => {
    const puts = [put(1, "a", "1"), put(2, "b", "2"), put(3, "c", "3")];
    const log = new MemoryReplicaLog(conf);
    await log.persist({
      entries: puts.map((p) => p.entry),
      hardState: { term: 1, vote: "n1", commit: 1 },
    });
    const store = await MvccStore.open(new MemoryBackend());
    await store.applyBatch(puts.map((p) => ({ index: p.entry.index, envelope: p.envelope })));
    expect(store.appliedIndex).toBe(3);

    await startReplica(log, store); // the core refused applied 3 > commit 1 before

    expect(replica!.status().commit).toBe(1);
    expect(store.appliedIndex).toBe(3); // nothing undone: entries 2 and 3 are skipped on replay
  });

  it("restores the store from the log's snapshot when the store is behind it", async () => {
    // A store that applied five writes, and the snapshot a leader would have sent of it.
    const source = await MvccStore.open(new MemoryBackend());
    const puts = [1, 2, 3, 4, 5].map((i) => put(i, `k${i}`, `v${i}`));
    await source.applyBatch(puts.map((p) => ({ index: p.entry.index, envelope: p.envelope })));
    const snap = await source.snapshot();
    const parts: Uint8Array[] = [];
    for await (const chunk of snap.chunks) parts.push(chunk);
    const log = new MemoryReplicaLog(conf);
    await log.persist({
      snapshot: {
        metadata: { index: 5, term: 1, confState: conf },
        data: joinStoreSnapshot(parts),
      },
      hardState: { term: 1, vote: null, commit: 5 },
    });
    // the crash came before the store was restored from it
    const store = await MvccStore.open(new MemoryBackend());

    await startReplica(log, store);

    expect(store.appliedIndex).toBe(5);
    const r = await store.range({ key: enc("k3") });
    expect(r.kind === "range" && Buffer.from(r.kvs[0]!.value).toString()).toBe("v3");
  });
});
