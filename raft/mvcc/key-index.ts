/**
 * The in-memory key index (etcd's treeIndex + keyIndex): for every key, the revisions at which
 * it was written, in order, with the metadata a range needs without reading values. A delete
 * appends a tombstone, ending the key's generation; the next put starts a new one (version 1,
 * createRevision = that put's revision).
 *
 * Keys are latin1 strings (see key-range.ts) kept in a sorted array for range scans.
 */
import type { KeyInterval, KeyString } from "./key-range.ts";
import type { Revision } from "./layout.ts";

export interface IndexEntry extends Revision {
  createRevision: number;
  version: number;
  lease: number;
  tombstone: boolean;
}

export class KeyIndex {
  private readonly byKey = new Map<KeyString, IndexEntry[]>();
  private sorted: KeyString[] = [];

  get keyCount(): number {
    return this.sorted.length;
  }

  /** The key's latest entry at or below `revision` (a tombstone included). */
  at(key: KeyString, revision: number): IndexEntry | undefined {
    const entries = this.byKey.get(key);
    if (entries === undefined) return undefined;
    for (let i = entries.length - 1; i >= 0; i--) {
      if (entries[i]!.main <= revision) return entries[i];
    }
    return undefined;
  }

  /** The key's live entry at `revision`: the latest entry at or below it, unless a tombstone. */
  liveAt(key: KeyString, revision: number): IndexEntry | undefined {
    const e = this.at(key, revision);
    return e === undefined || e.tombstone ? undefined : e;
  }

  /** Appends an entry; its revision must be above the key's latest (revisions only grow). */
  append(key: KeyString, entry: IndexEntry): void {
    let entries = this.byKey.get(key);
    if (entries === undefined) {
      entries = [];
      this.byKey.set(key, entries);
      this.sorted.splice(this.lowerBound(key), 0, key);
    }
    const last = entries[entries.length - 1];
    if (
      last !== undefined &&
      (last.main > entry.main || (last.main === entry.main && last.sub >= entry.sub))
    ) {
      throw new Error(
        `mvcc key index: revision ${entry.main}.${entry.sub} is not above ${last.main}.${last.sub}`,
      );
    }
    entries.push(entry);
  }

  /** Keys in the interval, in order, that have any entry. */
  *keysIn(interval: KeyInterval): Generator<KeyString> {
    if (interval.single) {
      if (this.byKey.has(interval.start)) yield interval.start;
      return;
    }
    for (let i = this.lowerBound(interval.start); i < this.sorted.length; i++) {
      const key = this.sorted[i]!;
      if (interval.end !== undefined && key >= interval.end) return;
      yield key;
    }
  }

  /**
   * etcd's compaction: drops every entry below `revision` except each key's latest entry at or
   * below it, which is dropped too when it is a tombstone. Returns the dropped revisions.
   */
  compact(revision: number): Revision[] {
    const removed: Revision[] = [];
    let emptied = false;
    for (const [key, entries] of this.byKey) {
      let keep = -1;
      for (let i = entries.length - 1; i >= 0; i--) {
        if (entries[i]!.main <= revision) {
          keep = i;
          break;
        }
      }
      if (keep < 0) continue;
      const cut = entries[keep]!.tombstone ? keep + 1 : keep;
      if (cut === 0) continue;
      for (let i = 0; i < cut; i++) removed.push({ main: entries[i]!.main, sub: entries[i]!.sub });
      entries.splice(0, cut);
      if (entries.length === 0) {
        this.byKey.delete(key);
        emptied = true;
      }
    }
    if (emptied) this.sorted = this.sorted.filter((k) => this.byKey.has(k));
    return removed;
  }

  private lowerBound(key: KeyString): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
