/**
 * The store's key layout in its backend (all keys sort bytewise):
 *
 *   "r" main:u64 sub:u64   a history row: one key's state written at revision (main, sub),
 *                          like etcd's key bucket (revision.go). Rows are immutable; compaction
 *                          deletes them.
 *   "l" id:u64             a lease: ttl and absolute expiry (its keys are derived from history)
 *   "s" clientId:u64       a client session: last seq, cached response, activity order
 *   "m" "state"            applied index, current and compacted revision, session clock
 *   "m" "restoring"        present while a snapshot restore is in progress
 *
 * The key → revisions index is not persisted: like etcd's treeIndex it is rebuilt in memory on
 * open by scanning the history (one sequential read), and kept in memory after.
 *
 * Values are msgpack. u64 numbers are big-endian so that numeric order is key order.
 */
import { Packr } from "msgpackr";

// Plain maps of known shape; no records/structures so every row decodes on its own.
const packr = new Packr({ useRecords: false, moreTypes: false });

export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeValue<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/** A key's main revision and its position within that revision's txn (etcd's revision.go). */
export interface Revision {
  main: number;
  sub: number;
}

const HISTORY = 0x72; // "r"
const LEASE = 0x6c; // "l"
const SESSION = 0x73; // "s"

function u64Key(tag: number, ...ns: number[]): Buffer {
  const out = Buffer.allocUnsafe(1 + 8 * ns.length);
  out[0] = tag;
  ns.forEach((n, i) => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`mvcc layout: bad number ${n}`);
    out.writeBigUInt64BE(BigInt(n), 1 + 8 * i);
  });
  return out;
}

export function historyKey(rev: Revision): Buffer {
  return u64Key(HISTORY, rev.main, rev.sub);
}

export function decodeHistoryKey(key: Buffer): Revision {
  if (key.length !== 17 || key[0] !== HISTORY) throw new Error("mvcc layout: not a history key");
  return { main: Number(key.readBigUInt64BE(1)), sub: Number(key.readBigUInt64BE(9)) };
}

/** The first history key of revision `main` (for ranges over history). */
export function historyStart(main: number): Buffer {
  return historyKey({ main, sub: 0 });
}

export const HISTORY_END = Buffer.from([HISTORY + 1]);

export function leaseKey(id: number): Buffer {
  return u64Key(LEASE, id);
}
export const LEASE_START = Buffer.from([LEASE]);
export const LEASE_END = Buffer.from([LEASE + 1]);

export function sessionKey(clientId: number): Buffer {
  return u64Key(SESSION, clientId);
}
export function decodeSessionKey(key: Buffer): number {
  return Number(key.readBigUInt64BE(1));
}
export const SESSION_START = Buffer.from([SESSION]);
export const SESSION_END = Buffer.from([SESSION + 1]);

export const META_STATE_KEY = Buffer.from("mstate", "latin1");
export const RESTORING_KEY = Buffer.from("mrestoring", "latin1");

/** One history row: [key, value, createRevision, version, lease, tombstone]. */
export type HistoryRow = [
  key: Buffer,
  value: Buffer,
  createRevision: number,
  version: number,
  lease: number,
  tombstone: 0 | 1,
];

export interface MetaState {
  appliedIndex: number;
  currentRevision: number;
  compactRevision: number;
  /** The session table's clock (largest entry time applied). */
  sessionNowMs: number;
  /** Counter giving each session write its place in least-recently-active order. */
  sessionOrder: number;
}

export interface LeaseRow {
  id: number;
  ttlMs: number;
  expiryMs: number;
}

export interface SessionRow {
  lastSeq: number;
  /** The cached response; null until the session's first command. */
  lastResult: unknown;
  lastActiveMs: number;
  order: number;
}
