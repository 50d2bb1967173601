/**
 * Micro-benchmark of the durable Raft log (not part of `npm test`):
 *
 *   npx tsx test/bench/storage.bench.ts [seconds-per-case]
 *
 * Synced appends through RocksLogStorage.persist (entries + hard state in one fsync'd batch) of
 * 1, 16 and 256 entries of 300 B per batch; reports entries/s and per-batch latency p50/p99.
 * The same batches written straight through RocksDb (no codec, no checks) give the floor.
 * This file may read the real clock (performance.now): it measures the machine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../raft/core/messages.ts";
import { RocksDb } from "../../raft/storage/rocks/db.ts";
import { prefixedU64 } from "../../raft/storage/rocks/keys.ts";
import { RocksLogStorage } from "../../raft/storage/rocksdb.ts";
import { summarize } from "./stats.ts";

const ENTRY_BYTES = 300;
const BATCH_SIZES = [1, 16, 256];
const SECONDS_PER_CASE = Number(process.argv[2] ?? 3);
const WARMUP_BATCHES = 20;

interface Result {
  what: string;
  batch: number;
  entriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  batches: number;
}

async function timed(
  what: string,
  batch: number,
  write: (i: number) => Promise<void>,
): Promise<Result> {
  for (let i = 0; i < WARMUP_BATCHES; i++) await write(i);
  const latencies: number[] = [];
  const start = performance.now();
  let i = WARMUP_BATCHES;
  while (performance.now() - start < SECONDS_PER_CASE * 1000) {
    const t = performance.now();
    await write(i++);
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - start) / 1000;
  const s = summarize(latencies);
  return {
    what,
    batch,
    entriesPerSecond: Math.round((latencies.length * batch) / seconds),
    p50Ms: Number(s.p50.toFixed(3)),
    p99Ms: Number(s.p99.toFixed(3)),
    batches: latencies.length,
  };
}

async function benchLog(dir: string, batch: number): Promise<Result> {
  const log = await RocksLogStorage.open(join(dir, `log-${batch}`));
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  try {
    return await timed("RocksLogStorage.persist", batch, async () => {
      const first = log.lastIndex() + 1;
      const entries: Entry[] = [];
      for (let k = 0; k < batch; k++)
        entries.push({ index: first + k, term: 1, type: "normal", data });
      const last = first + batch - 1;
      await log.persist({ entries, hardState: { term: 1, vote: "n1", commit: last } });
    });
  } finally {
    await log.close();
  }
}

async function benchRaw(dir: string, batch: number): Promise<Result> {
  const db = await RocksDb.open(join(dir, `raw-${batch}`), { createIfMissing: true });
  const value = Buffer.alloc(ENTRY_BYTES, 7);
  try {
    return await timed("RocksDb.write (floor)", batch, async (i) => {
      const ops = [];
      for (let k = 0; k < batch; k++) {
        ops.push({ type: "put" as const, key: prefixedU64("L", i * batch + k), value });
      }
      await db.write(ops, { sync: true });
    });
  } finally {
    await db.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), "bosun-storage-bench-"));
try {
  const results: Result[] = [];
  for (const batch of BATCH_SIZES) {
    results.push(await benchLog(dir, batch));
    results.push(await benchRaw(dir, batch));
  }
  console.table(results);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
