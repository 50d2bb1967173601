/**
 * InstallSnapshot in chunks: a MsgSnap carries the whole state machine, which may be far larger
 * than one transport frame, so it travels as numbered chunks and is stepped into the core only
 * once every chunk has arrived (Raft §7, "InstallSnapshot RPC ... split into chunks").
 */
import { Packr } from "msgpackr";
import type { MsgSnap } from "../core/messages.ts";

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface SnapshotChunk {
  /** Identifies one transfer: the sender, the snapshot's index and term. */
  transferId: string;
  seq: number;
  total: number;
  bytes: Uint8Array;
}

/** Default chunk size: well under the transport's 4 MiB frame, large enough to be few. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** The largest snapshot a follower will assemble (a limit on memory held for one transfer). */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

export function splitSnapshot(msg: MsgSnap, chunkBytes = SNAPSHOT_CHUNK_BYTES): SnapshotChunk[] {
  const encoded: Uint8Array = packr.pack(msg);
  const total = Math.max(1, Math.ceil(encoded.length / chunkBytes));
  const transferId = `${msg.from}:${msg.snapshot.metadata.index}:${msg.snapshot.metadata.term}`;
  return Array.from({ length: total }, (_, seq) => ({
    transferId,
    seq,
    total,
    bytes: encoded.subarray(seq * chunkBytes, (seq + 1) * chunkBytes),
  }));
}

/** Gathers chunks per transfer; yields the MsgSnap when the last one arrives in order. */
export class SnapshotAssembler {
  private current: { transferId: string; parts: Uint8Array[]; bytes: number } | null = null;

  /** Returns the whole message when complete, null while waiting; throws on a broken stream. */
  add(chunk: SnapshotChunk): MsgSnap | null {
    if (chunk.seq === 0) this.current = { transferId: chunk.transferId, parts: [], bytes: 0 };
    const current = this.current;
    if (current === null || current.transferId !== chunk.transferId) return null; // stale transfer
    if (chunk.seq !== current.parts.length) {
      this.current = null; // a gap: the leader will retry the whole snapshot
      throw new Error(`snapshot chunk ${chunk.seq} of ${chunk.transferId} out of order`);
    }
    current.bytes += chunk.bytes.length;
    if (current.bytes > MAX_SNAPSHOT_BYTES) {
      this.current = null;
      throw new Error(`snapshot ${chunk.transferId} exceeds ${MAX_SNAPSHOT_BYTES} bytes`);
    }
    current.parts.push(chunk.bytes);
    if (current.parts.length < chunk.total) return null;
    this.current = null;
    const msg = packr.unpack(Buffer.concat(current.parts)) as MsgSnap;
    if (msg?.type !== "MsgSnap") throw new Error(`snapshot ${chunk.transferId} did not decode`);
    return msg;
  }
}
