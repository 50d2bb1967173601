/**
 * Encoded answers from the cluster zone, reused for identical queries until the zone changes.
 * Not a DNS cache in the TTL sense: every informer event moves the zone's generation and empties
 * it, so an answer is never older than the watch (a new Service still resolves at once, a
 * deleted one stops at once). What it saves is the decode, the lookup and the encode of a query
 * whose bytes (all but the two-byte ID) were answered before: a steady cluster's queries are
 * the same few names over and over.
 */
import type { Rcode } from "./resolve.ts";

export interface CachedAnswer {
  bytes: Buffer;
  type: string;
  rcode: Rcode;
}

export class AnswerCache {
  private generation = -1;
  /** In use order, least recently used first (a Map iterates in insertion order). */
  private readonly entries = new Map<string, CachedAnswer>();

  /** `maxEntries`: past it the least recently used answer makes room. */
  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The key for a query's bytes over a transport: everything but the ID. */
  static key(transport: "udp" | "tcp", query: Buffer): string {
    return transport + query.toString("latin1", 2);
  }

  get(key: string, generation: number): CachedAnswer | undefined {
    if (generation !== this.generation) return undefined;
    const answer = this.entries.get(key);
    // recency matters only once the cache is full: until then a hit costs one lookup, not three
    if (answer !== undefined && this.entries.size >= this.maxEntries) {
      this.entries.delete(key);
      this.entries.set(key, answer);
    }
    return answer;
  }

  set(key: string, generation: number, answer: CachedAnswer): void {
    if (this.maxEntries <= 0) return;
    if (generation !== this.generation) {
      // the zone changed: every answer kept may be stale
      this.entries.clear();
      this.generation = generation;
    }
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, answer);
  }

  /** The cached answer with the asking query's ID in place of the one it was encoded for. */
  static reply(answer: CachedAnswer, query: Buffer): Buffer {
    const bytes = Buffer.from(answer.bytes);
    bytes.writeUInt16BE(query.readUInt16BE(0), 0);
    return bytes;
  }
}
