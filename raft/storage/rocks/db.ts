/**
 * RocksDb: a small promise-based wrapper over the `rocksdb` npm binding (leveldown API). This is
 * the only file that imports the binding; everything else in bosun goes through this class.
 *
 * What it adds over the binding:
 * - Use after close is refused with `RocksDbClosedError` ("rocksdb: <path> is closed"). The
 *   binding itself crashes the process on a `get` after `close`.
 * - `close()` is serialized against in-flight operations: new calls are refused at once, calls
 *   already started finish, open iterators are ended, then the database closes.
 * - Errors name the database path; corruption reported by RocksDB becomes
 *   `RocksDbCorruptionError` ("rocksdb: corruption in <path>/<file>: ...").
 * - Iterators are async iterables that always `end()` the native iterator, also on early
 *   `break` or a throw in the loop body.
 *
 * Checksums: the binding opens with `paranoid_checks = false` and its iterators read with
 * `verify_checksums = false` (point `get`s verify). Callers that must never serve wrong data
 * (the Raft log) checksum their own values; see raft/storage/rocks/log-codec.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** The largest batch `write` accepts (sum of key and value bytes): bounds memory and fsync time. */
export const maxWriteBatchBytes = 128 * 1024 * 1024;

export type WriteOp = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

export interface OpenOptions {
  /** Create the database if the directory holds none. */
  createIfMissing: boolean;
  /** Fail if a database already exists there. Default false. */
  errorIfExists?: boolean;
}

export interface WriteOptions {
  /** fsync the write-ahead log before the write resolves (durable across a power loss). */
  sync: boolean;
}

export interface KeyRange {
  /** Inclusive lower bound; unbounded if absent. */
  gte?: Buffer;
  /** Exclusive upper bound; unbounded if absent. */
  lt?: Buffer;
}

export interface IterateOptions extends KeyRange {
  /** Walk from the largest key down. Default false. */
  reverse?: boolean;
  /** At most this many pairs; unlimited if absent or negative. */
  limit?: number;
  /** Skip reading values (each pair's value is an empty Buffer). Default false. */
  keysOnly?: boolean;
}

/** The database was used after `close()` began. */
export class RocksDbClosedError extends Error {
  constructor(readonly path: string) {
    super(`rocksdb: ${path} is closed`);
    this.name = "RocksDbClosedError";
  }
}

/**
 * RocksDB reported corruption. `file` is the file RocksDB named in its message; when it named
 * none, `suspects` lists the files the failed operation reads (at open: the MANIFEST that
 * CURRENT points to and the WAL files; otherwise the table files).
 */
export class RocksDbCorruptionError extends Error {
  constructor(
    readonly path: string,
    readonly file: string | undefined,
    detail: string,
    readonly suspects: string[] = [],
    options?: { cause?: unknown },
  ) {
    const where =
      file !== undefined
        ? `${path}/${file}`
        : suspects.length > 0
          ? `${path} (RocksDB named no file; suspects: ${suspects.join(", ")})`
          : path;
    super(`rocksdb: corruption in ${where}: ${detail}`, options);
    this.name = "RocksDbCorruptionError";
  }
}

/** Any other failure of the binding, with the path and the operation named. */
export class RocksDbError extends Error {
  constructor(
    readonly path: string,
    readonly operation: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`rocksdb: ${path}: ${operation} failed: ${detail}`, options);
    this.name = "RocksDbError";
  }
}

// ---------------------------------------------------------------------------------------------
// The binding's shape (it ships no types).

type Callback<T = void> = (err: Error | null | undefined, value?: T) => void;

interface NativeIterator {
  next(cb: (err: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
  end(cb: (err?: Error | null) => void): void;
}

interface NativeDb {
  open(options: Record<string, unknown>, cb: (err?: Error | null) => void): void;
  close(cb: (err?: Error | null) => void): void;
  get(key: Buffer, options: { asBuffer: boolean; fillCache?: boolean }, cb: Callback<Buffer>): void;
  batch(ops: WriteOp[], options: { sync: boolean }, cb: (err?: Error | null) => void): void;
  iterator(options: Record<string, unknown>): NativeIterator;
  compactRange(start: Buffer, end: Buffer, cb: (err?: Error | null) => void): void;
}

const require = createRequire(import.meta.url);
const openNative = require("rocksdb") as (location: string) => NativeDb;

// ---------------------------------------------------------------------------------------------

type State = "open" | "closing" | "closed";

export class RocksDb {
  private state: State = "open";
  private inflight = 0;
  private drained: (() => void) | undefined;
  private readonly iterators = new Set<RocksIterator>();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly path: string,
    private readonly native: NativeDb,
  ) {}

  /** Opens (or creates) the database in directory `path`. */
  static async open(path: string, options: OpenOptions): Promise<RocksDb> {
    const native = openNative(path);
    await new Promise<void>((resolve, reject) => {
      native.open(
        { createIfMissing: options.createIfMissing, errorIfExists: options.errorIfExists ?? false },
        (err) => (err ? reject(toDbError(path, "open", err)) : resolve()),
      );
    });
    return new RocksDb(path, native);
  }

  get isClosed(): boolean {
    return this.state !== "open";
  }

  /** The value at `key`, or undefined. Point reads verify block checksums. */
  get(key: Buffer): Promise<Buffer | undefined> {
    return this.track("get", (done) =>
      this.native.get(key, { asBuffer: true }, (err, value) => {
        if (err && /^NotFound/.test(err.message)) done(null, undefined);
        else done(err, value);
      }),
    );
  }

  /** Applies `ops` as one atomic batch (all or none survive a crash). */
  write(ops: WriteOp[], options: WriteOptions): Promise<void> {
    let bytes = 0;
    for (const op of ops) bytes += op.key.length + (op.type === "put" ? op.value.length : 0);
    if (bytes > maxWriteBatchBytes) {
      return Promise.reject(
        new RangeError(
          `rocksdb: ${this.path}: batch of ${bytes} bytes exceeds maxWriteBatchBytes ${maxWriteBatchBytes}`,
        ),
      );
    }
    if (ops.length === 0) {
      return this.isClosed ? Promise.reject(new RocksDbClosedError(this.path)) : Promise.resolve();
    }
    return this.track("write", (done) =>
      this.native.batch(ops, { sync: options.sync }, (err) => done(err)),
    );
  }

  /** The delete ops for every key in `range`, to fold into a caller's own atomic batch. */
  async rangeDeleteOps(range: KeyRange): Promise<WriteOp[]> {
    const ops: WriteOp[] = [];
    for await (const [key] of this.iterate({ ...range, keysOnly: true })) {
      ops.push({ type: "del", key });
    }
    return ops;
  }

  /** Deletes every key in `range` in one atomic batch; returns how many were deleted. */
  async deleteRange(range: KeyRange, options: WriteOptions): Promise<number> {
    const ops = await this.rangeDeleteOps(range);
    await this.write(ops, options);
    return ops.length;
  }

  /**
   * Iterates `[key, value]` pairs in key order (or reverse). The native iterator holds an
   * implicit snapshot taken when `iterate` is called: writes made after that are not seen.
   * It is ended when the loop finishes, breaks or throws, and at `close()` if still open (a
   * later `next()` then throws RocksDbClosedError). Do not leave one unconsumed: it pins the
   * snapshot (and its files) until ended.
   */
  iterate(options: IterateOptions = {}): AsyncIterableIterator<[Buffer, Buffer]> {
    this.assertOpen();
    const nativeOptions: Record<string, unknown> = {
      keys: true,
      values: !options.keysOnly,
      keyAsBuffer: true,
      valueAsBuffer: true,
      reverse: options.reverse ?? false,
      limit: options.limit ?? -1,
    };
    if (options.gte !== undefined) nativeOptions.gte = options.gte;
    if (options.lt !== undefined) nativeOptions.lt = options.lt;
    const it = new RocksIterator(this, this.native.iterator(nativeOptions));
    this.iterators.add(it);
    return it;
  }

  /** Flushes and compacts the key range [start, end] (e.g. after deleting a log prefix). */
  compactRange(start: Buffer, end: Buffer): Promise<void> {
    return this.track("compactRange", (done) =>
      this.native.compactRange(start, end, (err) => done(err)),
    );
  }

  /**
   * Closes the database: refuses new calls at once, waits for the calls in flight, ends open
   * iterators, then closes. Idempotent: a second call returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.state = "closing";
    this.closing = (async () => {
      if (this.inflight > 0) {
        await new Promise<void>((resolve) => {
          this.drained = resolve;
        });
      }
      for (const it of [...this.iterators]) await it.end();
      await new Promise<void>((resolve, reject) =>
        this.native.close((err) => (err ? reject(toDbError(this.path, "close", err)) : resolve())),
      );
      this.state = "closed";
    })();
    return this.closing;
  }

  /** @internal Throws RocksDbClosedError unless open. */
  assertOpen(): void {
    if (this.state !== "open") throw new RocksDbClosedError(this.path);
  }

  /**
   * @internal Runs one native call, counted as in flight so close() waits for it. Rejects with
   * RocksDbClosedError (never calls the binding) once close() has begun.
   */
  track<T>(operation: string, call: (done: Callback<T>) => void): Promise<T> {
    if (this.state !== "open") return Promise.reject(new RocksDbClosedError(this.path));
    this.inflight++;
    return new Promise<T>((resolve, reject) => {
      call((err, value) => {
        this.inflight--;
        if (this.inflight === 0 && this.drained) {
          this.drained();
          this.drained = undefined;
        }
        if (err) reject(toDbError(this.path, operation, err));
        else resolve(value as T);
      });
    });
  }

  /** @internal Called by an iterator once it has ended. */
  forget(it: RocksIterator): void {
    this.iterators.delete(it);
  }
}

/**
 * One native iterator as an async iterable. `next()` calls are serialized (the binding refuses
 * a `next` while another is pending); `end()` is idempotent.
 */
class RocksIterator implements AsyncIterableIterator<[Buffer, Buffer]> {
  private ending: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: RocksDb,
    private readonly native: NativeIterator,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<[Buffer, Buffer]> {
    return this;
  }

  next(): Promise<IteratorResult<[Buffer, Buffer], undefined>> {
    const result = this.queue.then(() => this.step());
    this.queue = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<[Buffer, Buffer], undefined>> {
    await this.end();
    return { done: true, value: undefined };
  }

  private async step(): Promise<IteratorResult<[Buffer, Buffer], undefined>> {
    if (this.ending) {
      if (this.db.isClosed) throw new RocksDbClosedError(this.db.path);
      return { done: true, value: undefined };
    }
    let pair: [Buffer, Buffer] | undefined;
    try {
      pair = await this.db.track<[Buffer, Buffer] | undefined>("iterator.next", (done) =>
        this.native.next((err, key, value) => {
          if (err) done(err);
          else if (key === undefined) done(null, undefined);
          else done(null, [key, value ?? Buffer.alloc(0)]);
        }),
      );
    } catch (error) {
      await this.end();
      throw error;
    }
    if (pair === undefined) {
      await this.end();
      return { done: true, value: undefined };
    }
    return { done: false, value: pair };
  }

  /** Ends the native iterator (releasing its snapshot). Safe to call more than once. */
  end(): Promise<void> {
    if (!this.ending) {
      this.ending = new Promise<void>((resolve, reject) => {
        this.native.end((err) => {
          this.db.forget(this);
          if (err) reject(toDbError(this.db.path, "iterator.end", err));
          else resolve();
        });
      });
    }
    return this.ending;
  }
}

/** RocksDB file names that a corruption message may mention. */
const rocksFileName = /(\d{6,}\.(?:sst|log|blob)|MANIFEST-\d+|OPTIONS-\d+|CURRENT|IDENTITY)\b/;

/** Maps a binding error to one that names the database path (and the file, for corruption). */
export function toDbError(path: string, operation: string, err: Error): Error {
  const message = err.message;
  if (/corrupt/i.test(message)) {
    const file = rocksFileName.exec(message)?.[1];
    const suspects = file === undefined ? suspectFiles(path, operation) : [];
    return new RocksDbCorruptionError(path, file, `${operation}: ${message}`, suspects, {
      cause: err,
    });
  }
  return new RocksDbError(path, operation, message, { cause: err });
}

/** The files an operation that failed on unnamed corruption reads; best effort, never throws. */
function suspectFiles(path: string, operation: string): string[] {
  try {
    const files = readdirSync(path);
    if (operation === "open") {
      const current = readFileSync(join(path, "CURRENT"), "latin1").trim();
      const manifest = /^MANIFEST-\d+$/.test(current) ? [current] : ["CURRENT"];
      return [...manifest, ...files.filter((f) => f.endsWith(".log")).sort()];
    }
    return files.filter((f) => f.endsWith(".sst")).sort();
  } catch {
    return [];
  }
}
