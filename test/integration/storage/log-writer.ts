/**
 * A child process for the storage crash tests (not a test file).
 *
 *   log-writer.ts append <dir> <seed>   append synced batches forever; after each, print
 *                                       "ack <lastIndex> <termOfLast> <commit>"
 *   log-writer.ts open <dir>            open the log; print "opened <lastIndex>" and exit 0, or
 *                                       print the error on stderr and exit 2
 *
 * The workload: batches of 1..64 entries, a new term now and then, a conflicting suffix
 * rewritten (the last 3 entries replaced by 5 of a higher term, so the last index still grows),
 * and a snapshot + compaction every so often. Each entry's data is `entryPayload(index, term)`,
 * so a reader can check that every entry holds what was written at its index.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Entry } from "../../../raft/core/messages.ts";
import { RocksLogStorage } from "../../../raft/storage/rocksdb.ts";

export function entryPayload(index: number, term: number): Uint8Array {
  return new TextEncoder().encode(`entry ${index} term ${term} `.padEnd(64, "."));
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

async function append(dir: string, seed: number): Promise<void> {
  const random = prng(seed);
  const log = await RocksLogStorage.open(dir);
  let term = Math.max(1, log.hardStateNow().term);
  const cs = log.initialState().confState;
  for (let batch = 0; ; batch++) {
    const last = log.lastIndex();
    let from = last + 1;
    let count = 1 + Math.floor(random() * 64);
    const commit0 = log.hardStateNow().commit;
    if (random() < 0.1) term++;
    if (random() < 0.1 && last - 3 > commit0 && last - 3 >= log.firstIndex()) {
      // A follower's conflicting suffix: replaced by entries of a newer term (Raft §5.3).
      term++;
      from = last - 2;
      count = 5;
    }
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) {
      entries.push({ index: from + i, term, type: "normal", data: entryPayload(from + i, term) });
    }
    const newLast = from + count - 1;
    // Commit trails the last index; never below what is already committed.
    const commit = Math.max(commit0, Math.min(from - 1, newLast - 10));
    await log.persist({ entries, hardState: { term, vote: "n1", commit } });
    process.stdout.write(`ack ${newLast} ${term} ${commit}\n`);
    if (batch % 25 === 24 && commit > log.snapshot().metadata.index) {
      await log.createSnapshot(commit, cs, new TextEncoder().encode(`state at ${commit}`));
      if (commit - 50 >= log.firstIndex()) await log.compact(commit - 50);
    }
  }
}

async function open(dir: string): Promise<void> {
  try {
    const log = await RocksLogStorage.open(dir, { createIfMissing: false });
    process.stdout.write(`opened ${log.lastIndex()}\n`);
    await log.close();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}

// Run only as a script: the test imports entryPayload from this module too.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode, dir, seed] = process.argv.slice(2);
  if (mode === "append" && dir) await append(dir, Number(seed ?? 1));
  else if (mode === "open" && dir) await open(dir);
  else {
    process.stderr.write("usage: log-writer.ts append <dir> <seed> | open <dir>\n");
    process.exitCode = 64;
  }
}
