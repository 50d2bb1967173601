/**
 * The applied index is written atomically with each applied batch: a crash leaves the store at
 * a batch boundary, and the host's replay from the log neither re-applies nor skips.
 */
import { describe, expect, it } from "vitest";
import type { CommittedEntry } from "../../../raft/mvcc/commands.ts";
import { MemoryBackend, MemoryBackendCrashedError } from "../../../raft/mvcc/memory-backend.ts";
import { MvccStore } from "../../../raft/mvcc/store.ts";
import { b } from "./harness.ts";

/** A log of increments: entry i puts counter = i via a txn that reads the counter first. */
function log(n: number): CommittedEntry[] {
  const entries: CommittedEntry[] = [];
  for (let i = 1; i <= n; i++) {
    entries.push(
      i % 5 === 0
        ? { index: i } // a leader no-op
        : { index: i, envelope: { command: { op: "put", key: b(`k${i % 3}`), value: b(`${i}`) } } },
    );
  }
  return entries;
}

describe("applied index persisted atomically with each batch", () => {
  it("after a crash at any batch, replaying the whole log reaches the same state with no double apply", async () => {
    const entries = log(20);
    const reference = await MvccStore.open(new MemoryBackend());
    for (let i = 0; i < entries.length; i += 3) await reference.applyBatch(entries.slice(i, i + 3));
    const want = await reference.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) });

    for (let crashAt = 0; crashAt <= 7; crashAt++) {
      const backend = new MemoryBackend();
      const store = await MvccStore.open(backend);
      backend.crashAfterWrites(crashAt);
      let failed = false;
      for (let i = 0; i < entries.length; i += 3) {
        try {
          await store.applyBatch(entries.slice(i, i + 3));
        } catch (error) {
          expect(error).toBeInstanceOf(MemoryBackendCrashedError);
          failed = true;
          break;
        }
      }
      expect(failed).toBe(crashAt < 7);
      // The store that failed refuses further work; the host reopens (a restart).
      if (failed) await expect(store.applyBatch(entries.slice(0, 1))).rejects.toThrow(/reopen/);
      backend.recover();
      const reopened = await MvccStore.open(backend);
      const applied = reopened.appliedIndex;
      expect(applied).toBe(Math.min(crashAt * 3, 20));
      // Replay everything from the log: entries ≤ applied are skipped.
      const outcomes = await reopened.applyBatch(entries);
      expect(outcomes.filter((o) => o.status === "alreadyApplied").length).toBe(applied);
      expect(reopened.currentRevision).toBe(reference.currentRevision);
      expect(await reopened.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]) })).toEqual(
        want,
      );
    }
  });

  it("a gap in the applied entries is a host bug and throws", async () => {
    const store = await MvccStore.open(new MemoryBackend());
    await expect(store.apply(2)).rejects.toThrow(/applied after 0/);
  });
});
