/**
 * Crash safety of RocksLogStorage with real processes: a writer appending synced batches is
 * killed with SIGKILL at a random moment; the log reopened afterwards must hold every entry the
 * writer acknowledged (Raft: persisted before acknowledged), be contiguous with non-decreasing
 * terms, and keep its hard state consistent. Plus: a corrupted file stops `open` in a process
 * with an error naming the file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { RocksDb } from "../../../raft/storage/rocks/db.ts";
import { RocksLogStorage } from "../../../raft/storage/rocksdb.ts";
import { entryPayload } from "./log-writer.ts";

const writerScript = fileURLToPath(new URL("./log-writer.ts", import.meta.url));

interface Ack {
  last: number;
  term: number;
  commit: number;
}

/** Starts the writer; `acks` fills as it acknowledges batches. */
function startWriter(
  dir: string,
  seed: number,
): { child: ChildProcess; acks: Ack[]; stderr: () => string } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", writerScript, "append", dir, String(seed)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const acks: Ack[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString();
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const m = /^ack (\d+) (\d+) (\d+)$/.exec(buffered.slice(0, nl));
      if (m) acks.push({ last: Number(m[1]), term: Number(m[2]), commit: Number(m[3]) });
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
    }
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return { child, acks, stderr: () => stderr };
}

function untilAcks(w: ReturnType<typeof startWriter>, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (w.acks.length >= n) {
        w.child.stdout!.off("data", check);
        resolve();
      }
    };
    w.child.stdout!.on("data", check);
    w.child.once("exit", (code) =>
      reject(new Error(`writer exited (${code}) after ${w.acks.length} acks: ${w.stderr()}`)),
    );
    check();
  });
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return gone;
}

function runOpen(dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", writerScript, "open", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), "bosun-crash-"));
  dirs.push(d);
  return join(d, "log");
}

afterEach(async () => {
  await Promise.all(children.splice(0).map(killed));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("RocksLogStorage under kill -9", () => {
  const rounds = 4;
  it(`keeps every acknowledged entry, contiguous, with a consistent hard state (${rounds} kills)`, async () => {
    const dir = newDir();
    let seed = 1 + Math.floor(Math.random() * 1e9);
    let previous: Ack | undefined;
    for (let round = 0; round < rounds; round++) {
      // Each round continues the same log: recovery after a crash, then crash again.
      const w = startWriter(dir, seed++);
      children.push(w.child);
      const target = 5 + Math.floor(Math.random() * 150);
      await untilAcks(w, target);
      await killed(w.child);
      const lastAck = w.acks[w.acks.length - 1]!;
      const context = `round ${round}, seed ${seed - 1}, ${w.acks.length} acks, last ${JSON.stringify(lastAck)}`;

      // Opening checks contiguity, term order, checksums and commit <= last index.
      const log = await RocksLogStorage.open(dir, { createIfMissing: false });
      try {
        expect(log.lastIndex(), context).toBeGreaterThanOrEqual(lastAck.last);
        expect(log.term(lastAck.last), context).toBeGreaterThanOrEqual(lastAck.term);
        const hs = log.hardStateNow();
        expect(hs.commit, context).toBeGreaterThanOrEqual(lastAck.commit);
        expect(hs.commit).toBeLessThanOrEqual(log.lastIndex());
        if (previous) expect(log.lastIndex()).toBeGreaterThan(previous.last);
        const first = log.firstIndex();
        let prevTerm = log.term(first - 1);
        for (const e of log.entries(first, log.lastIndex() + 1, Infinity)) {
          expect(e.term).toBeGreaterThanOrEqual(prevTerm);
          expect(e.data, context).toEqual(entryPayload(e.index, e.term));
          prevTerm = e.term;
        }
        const snap = log.snapshot().metadata;
        expect(snap.index).toBeLessThanOrEqual(hs.commit);
      } finally {
        await log.close();
      }
      previous = lastAck;
    }
  });
});

describe("RocksLogStorage on a corrupted disk", () => {
  it("refuses to start, naming the corrupted file", async () => {
    const dir = newDir();
    const w = startWriter(dir, 7);
    children.push(w.child);
    await untilAcks(w, 30);
    await killed(w.child);
    // Move everything into a table file so there is an .sst to damage.
    const db = await RocksDb.open(dir, { createIfMissing: false });
    await db.compactRange(Buffer.from([0]), Buffer.from([0xff]));
    await db.close();
    expect((await runOpen(dir)).code).toBe(0);

    const sst = readdirSync(dir).find((f) => f.endsWith(".sst"))!;
    const bytes = readFileSync(join(dir, sst));
    for (let i = 100; i < 108; i++) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(join(dir, sst), bytes);

    const r = await runOpen(dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`rocksdb: corruption in ${dir}/${sst}: `);
  });
});
