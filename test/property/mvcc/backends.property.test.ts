/**
 * The same random command sequence on the memory backend and on RocksDB (reopened from disk at
 * random points) gives identical responses, states and watch histories.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { RocksBackend } from "../../../raft/mvcc/rocks-backend.ts";
import { MvccStore } from "../../../raft/mvcc/store.ts";
import { RocksDb } from "../../../raft/storage/rocks/db.ts";
import { step, toCommand } from "./commands.ts";

const ALL = { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) };
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function openRocks(dir: string): Promise<MvccStore> {
  const db = await RocksDb.open(dir, { createIfMissing: true });
  return MvccStore.open(new RocksBackend(db, { ownsDb: true }), { syncWrites: false });
}

async function history(store: MvccStore): Promise<unknown> {
  const out: unknown[] = [];
  const from = store.compactRevision + 1;
  if (from > store.currentRevision) return out;
  const w = store.watch({ ...ALL, startRevision: from, prevKv: true });
  w.requestProgress();
  for (;;) {
    const r = await w.next();
    if (r === undefined || r.kind === "progress") break;
    out.push(r.kind === "events" ? [r.header.revision, r.events] : r);
    if (r.kind === "canceled") break;
  }
  w.cancel();
  return out;
}

describe("memory and RocksDB backends agree", () => {
  it("responses, ranges at every revision and watch history, across reopens", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ s: step, reopen: fc.boolean() }), { minLength: 1, maxLength: 25 }),
        async (steps) => {
          const dir = await mkdtemp(join(tmpdir(), "bosun-mvcc-"));
          dirs.push(dir);
          const memory = await MvccStore.open(new MemoryBackend());
          let rocks = await openRocks(dir);
          try {
            let index = 0;
            for (const { s, reopen } of steps) {
              index++;
              const cmd = toCommand(s, memory.currentRevision);
              const [a, b] = await Promise.all([
                memory.apply(index, { command: cmd }),
                rocks.apply(index, { command: cmd }),
              ]);
              expect(b).toEqual(a);
              if (reopen) {
                await rocks.close();
                rocks = await openRocks(dir);
                expect(rocks.appliedIndex).toBe(index);
              }
            }
            expect(rocks.currentRevision).toBe(memory.currentRevision);
            expect(rocks.compactRevision).toBe(memory.compactRevision);
            for (
              let rev = Math.max(1, memory.compactRevision);
              rev <= memory.currentRevision;
              rev++
            ) {
              expect(await rocks.range({ ...ALL, revision: rev })).toEqual(
                await memory.range({ ...ALL, revision: rev }),
              );
            }
            expect(await history(rocks)).toEqual(await history(memory));
          } finally {
            await rocks.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("a RocksDB snapshot restores into a memory store and back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bosun-mvcc-"));
    dirs.push(dir);
    const rocks = await openRocks(dir);
    try {
      let index = 0;
      for (const s of fc.sample(step, { numRuns: 60, seed: 7 })) {
        await rocks.apply(++index, { command: toCommand(s, rocks.currentRevision) });
      }
      const memory = await MvccStore.open(new MemoryBackend());
      await memory.restoreSnapshot((await rocks.snapshot()).chunks);
      expect(await memory.range(ALL)).toEqual(await rocks.range(ALL));
      const back = await mkdtemp(join(tmpdir(), "bosun-mvcc-"));
      dirs.push(back);
      const rocks2 = await openRocks(back);
      await rocks2.restoreSnapshot((await memory.snapshot()).chunks);
      await rocks2.close();
      const reopened = await openRocks(back);
      expect(await reopened.range(ALL)).toEqual(await rocks.range(ALL));
      expect(reopened.appliedIndex).toBe(index);
      await reopened.close();
    } finally {
      await rocks.close();
    }
  });
});
