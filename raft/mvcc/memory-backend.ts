/**
 * The in-memory twin of the RocksDB backend, for tests: a sorted array of keys over a map.
 * `crashAfterWrites(n)` makes every write after the next n fail without effect, so tests can
 * "crash" a store at a chosen batch and reopen a new store on what was durable.
 */
import type { BackendOp, BackendRange, MvccBackend } from "./backend.ts";

/** A write refused because the test crashed the backend. */
export class MemoryBackendCrashedError extends Error {
  constructor() {
    super("memory backend: crashed (write refused)");
    this.name = "MemoryBackendCrashedError";
  }
}

export class MemoryBackend implements MvccBackend {
  private readonly values = new Map<string, Buffer>();
  /** Keys as latin1 strings (bytewise order), sorted. */
  private readonly sorted: string[] = [];
  private writesLeft = Number.POSITIVE_INFINITY;
  /** Successful writes so far. */
  writes = 0;

  /** Lets `n` more writes succeed, then refuses every write until `recover()`. */
  crashAfterWrites(n: number): void {
    this.writesLeft = n;
  }

  recover(): void {
    this.writesLeft = Number.POSITIVE_INFINITY;
  }

  get size(): number {
    return this.sorted.length;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    return this.values.get(key.toString("latin1"));
  }

  async write(ops: BackendOp[], _options: { sync: boolean }): Promise<void> {
    if (this.writesLeft <= 0) throw new MemoryBackendCrashedError();
    this.writesLeft--;
    this.writes++;
    for (const op of ops) {
      const k = op.key.toString("latin1");
      const i = this.lowerBound(k);
      const present = this.sorted[i] === k;
      if (op.type === "put") {
        if (!present) this.sorted.splice(i, 0, k);
        this.values.set(k, Buffer.from(op.value));
      } else if (present) {
        this.sorted.splice(i, 1);
        this.values.delete(k);
      }
    }
  }

  iterate(range: BackendRange): AsyncIterableIterator<[Buffer, Buffer]> {
    // Copied eagerly: the snapshot semantics of a RocksDB iterator, trivially.
    const pairs: [Buffer, Buffer][] = [];
    const limit = range.limit ?? Number.POSITIVE_INFINITY;
    const lt = range.lt?.toString("latin1");
    for (
      let i = range.gte ? this.lowerBound(range.gte.toString("latin1")) : 0;
      i < this.sorted.length;
      i++
    ) {
      const k = this.sorted[i]!;
      if (lt !== undefined && k >= lt) break;
      if (pairs.length >= limit) break;
      pairs.push([Buffer.from(k, "latin1"), this.values.get(k)!]);
    }
    return (async function* () {
      yield* pairs;
    })();
  }

  async close(): Promise<void> {}

  private lowerBound(k: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
