/**
 * The snapshot stream of the whole state machine: every backend row (history, leases,
 * sessions, meta) as read by one backend iterator (RocksDB's implicit snapshot), cut into
 * chunks of at most `maxSnapshotChunkBytes` (a chunk always holds at least one row).
 *
 * Chunk 1 is a header (format, version, applied index, revision); then row chunks; the last
 * chunk is a trailer with the row count, so a truncated stream is detected on restore.
 */
import type { MvccBackend } from "./backend.ts";
import { decodeValue, encodeValue } from "./layout.ts";

export const SNAPSHOT_FORMAT = "bosun-mvcc-snapshot";
export const SNAPSHOT_VERSION = 1;

export interface SnapshotHeader {
  t: "header";
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  appliedIndex: number;
  currentRevision: number;
}

export type SnapshotChunk =
  | SnapshotHeader
  | { t: "rows"; rows: [Buffer, Buffer][] }
  | { t: "end"; rows: number };

/** Bytes a row adds to a chunk, with room for msgpack framing. */
function rowBytes(key: Buffer, value: Buffer): number {
  return key.length + value.length + 16;
}

/** The chunk stream over `rows` (an iterator opened by the caller at the snapshot point). */
export async function* snapshotStream(
  rows: AsyncIterableIterator<[Buffer, Buffer]>,
  header: Omit<SnapshotHeader, "t" | "format" | "version">,
  maxChunkBytes: number,
): AsyncGenerator<Uint8Array> {
  try {
    yield encodeValue({
      t: "header",
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      ...header,
    });
    let batch: [Buffer, Buffer][] = [];
    let bytes = 0;
    let count = 0;
    for await (const [key, value] of rows) {
      const size = rowBytes(key, value);
      if (batch.length > 0 && bytes + size > maxChunkBytes) {
        yield encodeValue({ t: "rows", rows: batch });
        batch = [];
        bytes = 0;
      }
      batch.push([key, value]);
      bytes += size;
      count++;
    }
    if (batch.length > 0) yield encodeValue({ t: "rows", rows: batch });
    yield encodeValue({ t: "end", rows: count });
  } finally {
    await rows.return?.();
  }
}

/** A snapshot stream that is not one: wrong format, order, or truncated. */
export class SnapshotFormatError extends Error {
  constructor(detail: string) {
    super(`mvcc snapshot: ${detail}`);
    this.name = "SnapshotFormatError";
  }
}

export function decodeChunk(bytes: Uint8Array): SnapshotChunk {
  let chunk: SnapshotChunk;
  try {
    chunk = decodeValue<SnapshotChunk>(bytes);
  } catch (error) {
    throw new SnapshotFormatError(`undecodable chunk (${(error as Error).message})`);
  }
  if (typeof chunk !== "object" || chunk === null || !("t" in chunk)) {
    throw new SnapshotFormatError("chunk without a type");
  }
  return chunk;
}

/** Writes the rows of a snapshot stream to `backend` in batches; returns the header. */
export async function writeSnapshotRows(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  backend: MvccBackend,
  batchRows: number,
): Promise<SnapshotHeader> {
  let header: SnapshotHeader | undefined;
  let ended = false;
  let count = 0;
  let ops: { type: "put"; key: Buffer; value: Buffer }[] = [];
  for await (const bytes of chunks) {
    const chunk = decodeChunk(bytes);
    if (ended) throw new SnapshotFormatError("chunk after the trailer");
    if (chunk.t === "header") {
      if (header) throw new SnapshotFormatError("second header");
      if (chunk.format !== SNAPSHOT_FORMAT || chunk.version !== SNAPSHOT_VERSION) {
        throw new SnapshotFormatError(`unknown format ${chunk.format} v${chunk.version}`);
      }
      header = chunk;
    } else if (header === undefined) {
      throw new SnapshotFormatError("stream does not start with a header");
    } else if (chunk.t === "rows") {
      for (const [key, value] of chunk.rows) {
        ops.push({ type: "put", key: Buffer.from(key), value: Buffer.from(value) });
        count++;
        if (ops.length >= batchRows) {
          await backend.write(ops, { sync: false });
          ops = [];
        }
      }
    } else if (chunk.t === "end") {
      if (chunk.rows !== count)
        throw new SnapshotFormatError(`trailer says ${chunk.rows} rows, got ${count}`);
      ended = true;
    } else {
      throw new SnapshotFormatError("unknown chunk type");
    }
  }
  if (!ended || header === undefined)
    throw new SnapshotFormatError("truncated stream (no trailer)");
  if (ops.length > 0) await backend.write(ops, { sync: false });
  return header;
}
