/**
 * The storage the MVCC store persists to: an ordered key/value space with atomic batch writes
 * (hashicorp/raft pairs each such interface with an in-memory twin; see memory-backend.ts and
 * rocks-backend.ts). Keys sort bytewise.
 */

export type BackendOp = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

export interface BackendRange {
  /** Inclusive lower bound; unbounded if absent. */
  gte?: Buffer;
  /** Exclusive upper bound; unbounded if absent. */
  lt?: Buffer;
  /** At most this many pairs; unlimited if absent. */
  limit?: number;
}

export interface MvccBackend {
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Applies all of `ops` or none of them, also across a crash. */
  write(ops: BackendOp[], options: { sync: boolean }): Promise<void>;
  /**
   * Pairs in key order. The view is a snapshot taken when `iterate` is called (before it
   * returns): later writes are not seen. Callers finish or break out of every iteration.
   */
  iterate(range: BackendRange): AsyncIterableIterator<[Buffer, Buffer]>;
  close(): Promise<void>;
}
