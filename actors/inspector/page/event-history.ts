/**
 * One actor's history as the event log shows it and time travel steps through it: a row per
 * event the actor handled — when, which event, who sent it, the state before and after — built
 * from its inspection records (an `@xstate.event` record, then the `@xstate.snapshot` it led
 * to). Bounded: the oldest rows fall off past `maxRows`.
 */
import type { InspectionRecord } from "../../system/inspection-ring.ts";

export interface LogRow {
  seq: number;
  atMs: number;
  event: string;
  source: string | null;
  before: unknown;
  after: unknown;
  /** The event's redacted payload preview, if it had one. */
  payload?: unknown;
}

export const MAX_HISTORY_ROWS = 2_000;

const sameState = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class EventHistory {
  readonly rows: LogRow[] = [];
  /** Rows that fell off the front since the start (so indexes can be kept steady). */
  dropped = 0;
  private pending: LogRow | null = null;
  private lastSeq = 0;

  constructor(
    private readonly address: string,
    public state: unknown,
    private readonly maxRows = MAX_HISTORY_ROWS,
  ) {}

  /** Takes one record (older or repeated ones are ignored); returns the row it completed. */
  add(record: InspectionRecord): LogRow | null {
    if (record.address !== this.address || record.seq <= this.lastSeq) return null;
    this.lastSeq = record.seq;
    if (record.kind === "@xstate.event") {
      const row: LogRow = {
        seq: record.seq,
        atMs: record.atMs,
        event: record.eventType ?? "?",
        source: record.from ?? null,
        before: this.state,
        after: this.state,
      };
      if (record.payload !== undefined) row.payload = record.payload;
      this.pending = row;
      return null;
    }
    if (record.kind !== "@xstate.snapshot") return null;
    const row = this.pending ?? {
      // a snapshot without its event (it fell off the ring): still a change to show
      seq: record.seq,
      atMs: record.atMs,
      event: record.eventType ?? "?",
      source: null,
      before: this.state,
      after: this.state,
    };
    this.pending = null;
    row.after = record.state ?? null;
    this.state = row.after;
    this.rows.push(row);
    const excess = this.rows.length - this.maxRows;
    if (excess > 0) {
      this.rows.splice(0, excess);
      this.dropped += excess;
    }
    return row;
  }

  /** Whether a row moved the actor to another state. */
  static changed(row: LogRow): boolean {
    return !sameState(row.before, row.after);
  }
}
