/**
 * The MVCC backend on RocksDB (raft/storage/rocks/db.ts). The store's keys live under a
 * one-byte namespace prefix ("M" by default) so the state machine can share a database with the
 * Raft log ("L", "H", ...) and a snapshot restore can replace exactly its own key space.
 */
import type { RocksDb } from "../storage/rocks/db.ts";
import type { BackendOp, BackendRange, MvccBackend } from "./backend.ts";

export const DEFAULT_MVCC_NAMESPACE = "M";

export class RocksBackend implements MvccBackend {
  private readonly prefix: Buffer;
  private readonly end: Buffer;

  /** `ownsDb`: close the database when the backend closes. */
  constructor(
    private readonly db: RocksDb,
    options: { namespace?: string; ownsDb?: boolean } = {},
  ) {
    this.prefix = Buffer.from(options.namespace ?? DEFAULT_MVCC_NAMESPACE, "latin1");
    if (this.prefix.length !== 1 || this.prefix[0] === 0xff) {
      throw new RangeError("rocks backend: the namespace is one byte below 0xff");
    }
    this.end = Buffer.from([this.prefix[0]! + 1]);
    this.ownsDb = options.ownsDb ?? false;
  }

  private readonly ownsDb: boolean;

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(this.prefixed(key));
  }

  write(ops: BackendOp[], options: { sync: boolean }): Promise<void> {
    return this.db.write(
      ops.map((op) =>
        op.type === "put"
          ? { type: "put", key: this.prefixed(op.key), value: op.value }
          : { type: "del", key: this.prefixed(op.key) },
      ),
      options,
    );
  }

  iterate(range: BackendRange): AsyncIterableIterator<[Buffer, Buffer]> {
    const inner = this.db.iterate({
      gte: range.gte ? this.prefixed(range.gte) : this.prefix,
      lt: range.lt ? this.prefixed(range.lt) : this.end,
      ...(range.limit !== undefined ? { limit: range.limit } : {}),
    });
    return new PrefixStrippingIterator(inner, this.prefix.length);
  }

  async close(): Promise<void> {
    if (this.ownsDb) await this.db.close();
  }

  private prefixed(key: Buffer): Buffer {
    return Buffer.concat([this.prefix, key]);
  }
}

/** Removes the namespace byte from each key; ending it ends the native iterator at once. */
class PrefixStrippingIterator implements AsyncIterableIterator<[Buffer, Buffer]> {
  constructor(
    private readonly inner: AsyncIterableIterator<[Buffer, Buffer]>,
    private readonly strip: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<[Buffer, Buffer]> {
    return this;
  }

  async next(): Promise<IteratorResult<[Buffer, Buffer], undefined>> {
    const r = await this.inner.next();
    if (r.done) return { done: true, value: undefined };
    return { done: false, value: [r.value[0].subarray(this.strip), r.value[1]] };
  }

  async return(): Promise<IteratorResult<[Buffer, Buffer], undefined>> {
    await this.inner.return?.();
    return { done: true, value: undefined };
  }
}
