/**
 * The on-disk format of the Raft log in RocksDB (used by raft/storage/rocksdb.ts).
 *
 * Key spaces (one ASCII byte each, so a prefix scan is one range):
 *   "V"            format version (u32)
 *   "F"            the log's dummy entry: index and term of the entry just before the first one
 *   "H"            hard state: term, vote, commit
 *   "S"            snapshot metadata: index, term, confState
 *   "D"            snapshot data (opaque bytes)
 *   "L" + u64 idx  one log entry (big-endian index: iteration order = log order)
 *
 * Every value is `crc32 (4 bytes, big-endian) || payload`, payload = msgpack array (or raw
 * bytes for "D"). The binding iterates with `verify_checksums = false` and opens with
 * `paranoid_checks = false`, so this checksum is what stops a flipped bit from being served as
 * a log entry. An entry's value repeats its index, so a value under the wrong key is caught too.
 */
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  SnapshotMetadata,
} from "../../core/messages.ts";
import { decodePrefixedU64, prefixEnd, prefixedU64 } from "./keys.ts";

export const logFormatVersion = 1;

export const versionKey = Buffer.from("V");
export const dummyKey = Buffer.from("F");
export const hardStateKey = Buffer.from("H");
export const snapshotMetaKey = Buffer.from("S");
export const snapshotDataKey = Buffer.from("D");
const entryPrefix = Buffer.from("L");

/** The key range holding every log entry. */
export const entryKeyRange = { gte: entryPrefix, lt: prefixEnd(entryPrefix) };

export function entryKey(index: number): Buffer {
  return prefixedU64(entryPrefix, index);
}

export function entryIndexOfKey(key: Buffer): number {
  return decodePrefixedU64(key, entryPrefix.length);
}

/** A value failed its checksum or did not decode. Callers turn it into a corruption error. */
export class LogCodecError extends Error {
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
    this.name = "LogCodecError";
  }
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function seal(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(crc32(payload), 0);
  out.set(payload, 4);
  return out;
}

function open(what: string, value: Buffer): Buffer {
  if (value.length < 4)
    throw new LogCodecError(what, `value of ${value.length} bytes is too short`);
  const payload = value.subarray(4);
  const expected = value.readUInt32BE(0);
  const actual = crc32(payload);
  if (expected !== actual) {
    throw new LogCodecError(
      what,
      `checksum mismatch (stored ${expected.toString(16)}, computed ${actual.toString(16)})`,
    );
  }
  return payload;
}

function unpackArray(what: string, value: Buffer, length: number): unknown[] {
  const payload = open(what, value);
  let decoded: unknown;
  try {
    decoded = packr.unpack(payload);
  } catch (err) {
    throw new LogCodecError(what, `not msgpack: ${(err as Error).message}`);
  }
  if (!Array.isArray(decoded) || decoded.length !== length) {
    throw new LogCodecError(what, `expected an array of ${length}`);
  }
  return decoded;
}

function asIndex(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new LogCodecError(what, `bad number ${String(v)}`);
  }
  return v;
}

function asBytes(what: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new LogCodecError(what, "bad bytes");
  // A plain Uint8Array view, as the core and MemoryStorage hold (not a Buffer).
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function asIds(what: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new LogCodecError(what, "bad id list");
  }
  return v as string[];
}

// ---------------------------------------------------------------------------------------------

const entryTypeCode: Record<EntryType, number> = { normal: 0, confChange: 1 };
const entryTypeOfCode: EntryType[] = ["normal", "confChange"];

export function encodeEntry(e: Entry): Buffer {
  return seal(packr.pack([e.index, e.term, entryTypeCode[e.type], e.data]));
}

export function decodeEntry(value: Buffer): Entry {
  const what = "log entry";
  const [index, term, type, data] = unpackArray(what, value, 4);
  const entryType = entryTypeOfCode[type as number];
  if (entryType === undefined) throw new LogCodecError(what, `bad entry type ${String(type)}`);
  return {
    index: asIndex(what, index),
    term: asIndex(what, term),
    type: entryType,
    data: asBytes(what, data),
  };
}

export function encodeHardState(hs: HardState): Buffer {
  return seal(packr.pack([hs.term, hs.vote, hs.commit]));
}

export function decodeHardState(value: Buffer): HardState {
  const what = "hard state";
  const [term, vote, commit] = unpackArray(what, value, 3);
  if (vote !== null && typeof vote !== "string") throw new LogCodecError(what, "bad vote");
  return { term: asIndex(what, term), vote, commit: asIndex(what, commit) };
}

/** The dummy entry's position: the index and term just before the first log entry. */
export interface LogStart {
  index: number;
  term: number;
}

export function encodeLogStart(s: LogStart): Buffer {
  return seal(packr.pack([s.index, s.term]));
}

export function decodeLogStart(value: Buffer): LogStart {
  const what = "log start";
  const [index, term] = unpackArray(what, value, 2);
  return { index: asIndex(what, index), term: asIndex(what, term) };
}

export function encodeSnapshotMeta(m: SnapshotMetadata): Buffer {
  const cs = m.confState;
  return seal(
    packr.pack([
      m.index,
      m.term,
      cs.voters,
      cs.learners,
      cs.votersOutgoing,
      cs.learnersNext,
      cs.autoLeave,
    ]),
  );
}

export function decodeSnapshotMeta(value: Buffer): SnapshotMetadata {
  const what = "snapshot metadata";
  const [index, term, voters, learners, votersOutgoing, learnersNext, autoLeave] = unpackArray(
    what,
    value,
    7,
  );
  if (typeof autoLeave !== "boolean") throw new LogCodecError(what, "bad autoLeave");
  const confState: ConfState = {
    voters: asIds(what, voters),
    learners: asIds(what, learners),
    votersOutgoing: asIds(what, votersOutgoing),
    learnersNext: asIds(what, learnersNext),
    autoLeave,
  };
  return { index: asIndex(what, index), term: asIndex(what, term), confState };
}

export function encodeSnapshotData(data: Uint8Array): Buffer {
  return seal(data);
}

export function decodeSnapshotData(value: Buffer): Uint8Array {
  const payload = open("snapshot data", value);
  return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
}

export function encodeVersion(v: number): Buffer {
  return seal(packr.pack([v]));
}

export function decodeVersion(value: Buffer): number {
  const [v] = unpackArray("format version", value, 1);
  return asIndex("format version", v);
}
