/**
 * ReadIndex bookkeeping (Raft thesis §6.4, etcd-io/raft's read_only.go). A read request is
 * recorded with the commit index at arrival; the leader broadcasts a heartbeat carrying the
 * request's context; once a quorum acknowledged that heartbeat the leader knows it was still the
 * leader when the read arrived, and the read (and every earlier one) may be served at that index.
 */
import type { ReadOnlyOption } from "./config.ts";
import type { MsgReadIndex, NodeId } from "./messages.ts";

export interface ReadIndexStatus {
  request: MsgReadIndex;
  index: number;
  acks: Set<NodeId>;
}

/** Bound on pending read requests; beyond it new reads are dropped (the client retries). */
export const MAX_PENDING_READ_INDEX_REQUESTS = 4096;

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  size(): number {
    return this.queue.length;
  }

  /** Records a read at `index`. Returns false if a read with the same context is pending or the queue is full. */
  addRequest(index: number, m: MsgReadIndex): boolean {
    const key = contextKey(m.context);
    if (this.pending.has(key)) return false;
    if (this.queue.length >= MAX_PENDING_READ_INDEX_REQUESTS) return false;
    this.pending.set(key, { request: m, index, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records `id`'s heartbeat ack for the round `context`; returns the acks so far. */
  recvAck(id: NodeId, context: Uint8Array): ReadonlySet<NodeId> | undefined {
    const rs = this.pending.get(contextKey(context));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * The round `context` reached a quorum: it and every request queued before it are confirmed
   * (leadership at a later point proves it at the earlier ones too). Removes and returns them.
   */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      if (rs) out.push(rs);
      this.pending.delete(k);
    }
    return out;
  }

  /** Context of the newest pending read, sent with heartbeats so acks confirm it. */
  lastPendingRequestCtx(): Uint8Array | null {
    const key = this.queue[this.queue.length - 1];
    if (key === undefined) return null;
    return this.pending.get(key)?.request.context ?? null;
  }
}

function contextKey(ctx: Uint8Array): string {
  let s = "";
  for (const b of ctx) s += b.toString(16).padStart(2, "0");
  return s;
}
