/**
 * The unstable part of the log: entries (and possibly a snapshot) the node holds in memory but
 * the host has not yet confirmed as persisted (etcd-io/raft's `unstable`).
 *
 * `entries[i]` has index `offset + i`. When a snapshot is present, `offset` is the snapshot's
 * index + 1 and the entries (if any) follow it.
 */
import { invariant } from "./errors.ts";
import type { Entry, Snapshot } from "./messages.ts";

export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index known here, only when a snapshot is pending. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  /** The last index known here, if there are entries or a snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.metadata.index;
    return undefined;
  }

  /** The term of entry i, if this unstable log knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    if (this.snapshot && i === this.snapshot.metadata.index) return this.snapshot.metadata.term;
    return this.entries[i - this.offset]?.term;
  }

  /**
   * Entries up to (i, t) are now durable. Ignored when the entry at i has since been replaced by
   * a different term (the log was truncated after the Ready was handed out).
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || gt !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends, replacing any suffix that `ents` overlaps (Raft §5.3 conflict truncation). */
  truncateAndAppend(ents: Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    if (from === this.offset + this.entries.length) {
      this.entries = this.entries.concat(ents);
    } else if (from <= this.offset) {
      // Replaces the whole unstable tail (and the stable entries from `from` on, once persisted).
      this.offset = from;
      this.entries = [...ents];
    } else {
      this.entries = this.entries.slice(0, from - this.offset).concat(ents);
    }
  }

  /** Entries in [lo, hi); both must lie within the unstable entries. */
  slice(lo: number, hi: number): Entry[] {
    const upper = this.offset + this.entries.length;
    invariant(
      lo >= this.offset && hi <= upper && lo <= hi,
      () => `unstable.slice[${lo},${hi}) out of bounds [${this.offset},${upper})`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
