/** Snapshots: a consistent chunked stream of the whole state machine; restore replaces it. */
import { describe, expect, it } from "vitest";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { SnapshotFormatError } from "../../../raft/mvcc/snapshot.ts";
import { MvccStore, StoreRestoringError } from "../../../raft/mvcc/store.ts";
import { b, Driver } from "./harness.ts";

async function populated(): Promise<Driver> {
  const d = await Driver.memory({ limits: { maxSnapshotChunkBytes: 256 } });
  await d.run({ op: "leaseGrant", id: 3, ttlMs: 10_000, nowMs: 0 });
  const s = await d.run({ op: "registerSession", nowMs: 0 });
  for (let i = 0; i < 40; i++)
    await d.put(`/k/${i % 13}`, `value-${i}`, i % 4 === 0 ? { lease: 3 } : {});
  await d.del("/k/5");
  await d.run({ op: "compact", revision: 20 });
  if (s.kind === "registerSession") {
    await d.run(
      { op: "put", key: b("/s"), value: b("1") },
      { clientId: s.clientId, seq: 1, nowMs: 10 },
    );
  }
  return d;
}

async function chunksOf(store: MvccStore): Promise<{ appliedIndex: number; chunks: Uint8Array[] }> {
  const snap = await store.snapshot();
  const chunks: Uint8Array[] = [];
  for await (const c of snap.chunks) chunks.push(c);
  return { appliedIndex: snap.appliedIndex, chunks };
}

describe("snapshot and restore", () => {
  it("round trip: the restored store equals the original (ranges, history, leases, sessions)", async () => {
    const d = await populated();
    const { appliedIndex, chunks } = await chunksOf(d.store);
    expect(appliedIndex).toBe(d.store.appliedIndex);
    expect(chunks.length).toBeGreaterThan(3); // small chunks: the stream is cut
    for (const c of chunks.slice(1, -1)) expect(c.byteLength).toBeLessThanOrEqual(256 + 64);

    const target = await Driver.memory();
    await target.put("stale", "state");
    await target.store.restoreSnapshot(chunks);
    expect(target.store.appliedIndex).toBe(appliedIndex);
    expect(target.store.currentRevision).toBe(d.store.currentRevision);
    expect(target.store.compactRevision).toBe(20);
    expect(await target.all()).toEqual(await d.all());
    for (let rev = 20; rev <= d.store.currentRevision; rev++)
      expect(await target.all(rev)).toEqual(await d.all(rev));
    expect(target.store.leaseTimeToLive(3, 0)).toEqual(d.store.leaseTimeToLive(3, 0));
    // The session table came along: a retry is a duplicate on the restored store.
    const retry = await target.store.apply(target.store.appliedIndex + 1, {
      command: { op: "put", key: b("/s"), value: b("1") },
      session: { clientId: 2, seq: 1, nowMs: 10 },
    });
    expect(retry.status).toBe("duplicate");
  });

  it("a snapshot is taken at a batch boundary: later writes are not in it", async () => {
    const d = await populated();
    const snap = await d.store.snapshot();
    await d.put("/after", "x");
    const target = await Driver.memory();
    await target.store.restoreSnapshot(snap.chunks);
    expect(await target.get("/after")).toBeUndefined();
    expect(target.store.appliedIndex).toBe(snap.appliedIndex);
  });

  it("a crash mid-restore is detected on open: the store refuses to serve until restored", async () => {
    const d = await populated();
    const { chunks } = await chunksOf(d.store);
    const backend = new MemoryBackend();
    const target = await MvccStore.open(backend, { limits: { restoreBatchRows: 5 } });
    backend.crashAfterWrites(3); // marker, delete pass, one batch of rows, then the crash
    await expect(target.restoreSnapshot(chunks)).rejects.toThrow();
    backend.recover();
    const reopened = await MvccStore.open(backend);
    expect(reopened.restoring).toBe(true);
    expect(await reopened.range({ key: b("/k/1") })).toMatchObject({
      kind: "error",
      error: "restoring",
    });
    await expect(reopened.apply(1)).rejects.toBeInstanceOf(StoreRestoringError);
    expect(await reopened.watch({ key: b("/k/1") }).next()).toMatchObject({
      kind: "canceled",
      reason: "restoring",
    });
    await reopened.restoreSnapshot(chunks);
    expect(reopened.restoring).toBe(false);
    const restored = new Driver(reopened, backend);
    expect(await restored.all()).toEqual(await d.all());
  });

  it("a truncated stream is refused and leaves the store restoring", async () => {
    const d = await populated();
    const { chunks } = await chunksOf(d.store);
    const target = await Driver.memory();
    await expect(target.store.restoreSnapshot(chunks.slice(0, -1))).rejects.toBeInstanceOf(
      SnapshotFormatError,
    );
    expect(target.store.restoring).toBe(true);
    await expect(target.store.restoreSnapshot([Buffer.from("junk")])).rejects.toBeInstanceOf(
      SnapshotFormatError,
    );
  });
});
