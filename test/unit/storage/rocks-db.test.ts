import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RocksDb, RocksDbClosedError, RocksDbError } from "../../../raft/storage/rocks/db.ts";
import { encodeU64, prefixEnd, prefixedU64 } from "../../../raft/storage/rocks/keys.ts";

const b = (s: string) => Buffer.from(s);

describe("RocksDb wrapper", () => {
  let dir: string;
  let db: RocksDb | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "bosun-rocksdb-"));
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("gets what a batch put, and undefined for a missing key", async () => {
    db = await RocksDb.open(dir, { createIfMissing: true });
    await db.write(
      [
        { type: "put", key: b("a"), value: b("1") },
        { type: "put", key: b("b"), value: b("2") },
      ],
      { sync: true },
    );
    expect((await db.get(b("a")))?.toString()).toBe("1");
    expect(await db.get(b("zz"))).toBeUndefined();
    await db.write([{ type: "del", key: b("a") }], { sync: false });
    expect(await db.get(b("a"))).toBeUndefined();
  });

  it("keeps what was written across close and open", async () => {
    db = await RocksDb.open(dir, { createIfMissing: true });
    await db.write([{ type: "put", key: b("k"), value: b("v") }], { sync: true });
    await db.close();
    db = await RocksDb.open(dir, { createIfMissing: false });
    expect((await db.get(b("k")))?.toString()).toBe("v");
  });

  it("refuses every call after close with an error naming the path", async () => {
    db = await RocksDb.open(dir, { createIfMissing: true });
    await db.close();
    await expect(db.get(b("k"))).rejects.toThrow(new RocksDbClosedError(dir).message);
    await expect(db.write([{ type: "del", key: b("k") }], { sync: true })).rejects.toBeInstanceOf(
      RocksDbClosedError,
    );
    await expect(db.write([], { sync: true })).rejects.toBeInstanceOf(RocksDbClosedError);
    expect(() => db!.iterate()).toThrow(RocksDbClosedError);
    await expect(db.close()).resolves.toBeUndefined();
  });

  it("lets calls in flight finish when close begins, and refuses later ones", async () => {
    db = await RocksDb.open(dir, { createIfMissing: true });
    const write = db.write([{ type: "put", key: b("k"), value: b("v") }], { sync: true });
    const closed = db.close();
    await expect(db.get(b("k"))).rejects.toBeInstanceOf(RocksDbClosedError);
    await write;
    await closed;
    db = await RocksDb.open(dir, { createIfMissing: false });
    expect((await db.get(b("k")))?.toString()).toBe("v");
  });

  it("fails to open a missing database without createIfMissing, naming the path", async () => {
    const missing = join(dir, "absent");
    await expect(RocksDb.open(missing, { createIfMissing: false })).rejects.toThrow(missing);
    await expect(RocksDb.open(missing, { createIfMissing: false })).rejects.toBeInstanceOf(
      RocksDbError,
    );
  });

  it("fails to open an existing database with errorIfExists", async () => {
    db = await RocksDb.open(dir, { createIfMissing: true });
    await db.close();
    db = undefined;
    await expect(RocksDb.open(dir, { createIfMissing: true, errorIfExists: true })).rejects.toThrow(
      /exists/,
    );
  });

  describe("iterate", () => {
    beforeEach(async () => {
      db = await RocksDb.open(dir, { createIfMissing: true });
      const ops = [300, 1, 256, 2, 70000].map((n) => ({
        type: "put" as const,
        key: prefixedU64("L", n),
        value: b(String(n)),
      }));
      ops.push({ type: "put", key: b("H"), value: b("hard") });
      await db.write(ops, { sync: true });
    });

    const collect = async (it: AsyncIterable<[Buffer, Buffer]>) => {
      const out: string[] = [];
      for await (const [, v] of it) out.push(v.toString());
      return out;
    };

    it("walks a prefix in numeric order (big-endian u64 keys)", async () => {
      const it = db!.iterate({ gte: b("L"), lt: prefixEnd("L") });
      expect(await collect(it)).toEqual(["1", "2", "256", "300", "70000"]);
    });

    it("honours bounds, reverse and limit", async () => {
      expect(
        await collect(db!.iterate({ gte: prefixedU64("L", 2), lt: prefixedU64("L", 300) })),
      ).toEqual(["2", "256"]);
      expect(
        await collect(db!.iterate({ gte: b("L"), lt: prefixEnd("L"), reverse: true, limit: 2 })),
      ).toEqual(["70000", "300"]);
    });

    it("sees the snapshot taken when iterate was called, not later writes", async () => {
      const it = db!.iterate({ gte: b("L"), lt: prefixEnd("L") });
      await db!.write([{ type: "put", key: prefixedU64("L", 3), value: b("3") }], { sync: false });
      expect(await collect(it)).toEqual(["1", "2", "256", "300", "70000"]);
    });

    it("ends the native iterator on break and on throw, so close does not hang", async () => {
      for await (const _ of db!.iterate()) break;
      await expect(
        (async () => {
          for await (const _ of db!.iterate()) throw new Error("boom");
        })(),
      ).rejects.toThrow("boom");
      await db!.close();
    });

    it("ends an unfinished iterator at close; its next call is refused", async () => {
      const it = db!.iterate();
      expect((await it.next()).done).toBe(false);
      await db!.close();
      await expect(it.next()).rejects.toBeInstanceOf(RocksDbClosedError);
    });

    it("deletes a range in one batch", async () => {
      const n = await db!.deleteRange({ gte: b("L"), lt: prefixEnd("L") }, { sync: true });
      expect(n).toBe(5);
      expect(await collect(db!.iterate())).toEqual(["hard"]);
    });
  });

  it("encodes u64 keys so that byte order is numeric order", () => {
    const ns = [0, 1, 255, 256, 65535, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
    const sorted = ns.map(encodeU64).sort(Buffer.compare);
    expect(sorted.map((k) => Number(k.readBigUInt64BE()))).toEqual(ns);
    expect(() => encodeU64(-1)).toThrow(RangeError);
    expect(() => encodeU64(1.5)).toThrow(RangeError);
  });
});
