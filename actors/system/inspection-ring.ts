/**
 * A bounded ring of inspection records (DESIGN §3): every `@xstate.*` event of every actor on a
 * node, tagged with node id, actor address, Raft term and a monotonic sequence. Old records fall
 * off the end; readers ask "everything after seq N" and learn when they fell behind.
 */
export type InspectionKind =
  | "@xstate.actor"
  | "@xstate.event"
  | "@xstate.snapshot"
  | "@xstate.microstep"
  | "@xstate.transition"
  | "@xstate.action";

export interface InspectionRecord {
  seq: number;
  nodeId: string;
  address: string;
  term: number | null;
  atMs: number;
  kind: InspectionKind;
  /** The event's type (for event, snapshot and microstep records). */
  eventType?: string;
  /** Who sent the event, when known. */
  from?: string;
  /** The state value after a snapshot or microstep. */
  state?: unknown;
  /** The actor's status after a snapshot: active, done, error, stopped. */
  status?: string;
  /**
   * The event's payload (its fields but `type` and `from`), for event records: a bounded preview
   * that went through `redactedPreview` (redaction.ts) before it got here. Taken only while
   * someone follows or reads the ring (ActorSystem.readInspection): absent on the records of an
   * unwatched node.
   */
  payload?: unknown;
  /** The action's name, for action records. */
  action?: string;
}

export interface InspectionPage {
  records: InspectionRecord[];
  /** The seq to ask for next time. */
  nextSeq: number;
  /** True when records between the asked seq and the first returned one were overwritten. */
  truncated: boolean;
}

export const DEFAULT_INSPECTION_RING_RECORDS = 10_000;
export const MAX_INSPECTION_PAGE_RECORDS = 1_000;

type Listener = (record: InspectionRecord) => void;

export class InspectionRing {
  private readonly slots: (InspectionRecord | undefined)[];
  private nextSeqValue = 1;
  private readonly listeners = new Set<Listener>();

  constructor(readonly capacity = DEFAULT_INSPECTION_RING_RECORDS) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new Error(`inspection ring capacity must be a positive integer, got ${capacity}`);
    }
    this.slots = new Array(capacity);
  }

  /**
   * Stores a record, stamping its sequence number in place, and tells live listeners. This is on
   * the path of every actor event, so it allocates nothing beyond the record it is given.
   */
  push(record: InspectionRecord): InspectionRecord {
    record.seq = this.nextSeqValue++;
    this.slots[record.seq % this.capacity] = record;
    if (this.listeners.size > 0) for (const listener of this.listeners) listener(record);
    return record;
  }

  /** Whether a live listener is attached (then every record is read as it comes). */
  get followed(): boolean {
    return this.listeners.size > 0;
  }

  /** The sequence number the next record will get. */
  get nextSeq(): number {
    return this.nextSeqValue;
  }

  /** Records with seq ≥ sinceSeq, optionally for one actor, oldest first. */
  read(sinceSeq: number, options: { address?: string; limit?: number } = {}): InspectionPage {
    const limit = Math.min(
      options.limit ?? MAX_INSPECTION_PAGE_RECORDS,
      MAX_INSPECTION_PAGE_RECORDS,
    );
    const oldest = Math.max(1, this.nextSeqValue - this.capacity);
    const from = Math.max(sinceSeq, oldest);
    const records: InspectionRecord[] = [];
    let seq = from;
    for (; seq < this.nextSeqValue && records.length < limit; seq++) {
      const record = this.slots[seq % this.capacity];
      if (record === undefined || record.seq !== seq) continue;
      if (options.address !== undefined && record.address !== options.address) continue;
      records.push(record);
    }
    return { records, nextSeq: seq, truncated: sinceSeq < oldest && sinceSeq > 0 };
  }

  /**
   * The newest event record of each actor still in the ring (for "last event" in listings):
   * one pass over the ring, newest first.
   */
  latestEvents(): Map<string, InspectionRecord> {
    const out = new Map<string, InspectionRecord>();
    const oldest = Math.max(1, this.nextSeqValue - this.capacity);
    for (let seq = this.nextSeqValue - 1; seq >= oldest; seq--) {
      const record = this.slots[seq % this.capacity];
      if (record === undefined || record.kind !== "@xstate.event") continue;
      if (!out.has(record.address)) out.set(record.address, record);
    }
    return out;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
