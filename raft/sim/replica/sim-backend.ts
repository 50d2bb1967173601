/**
 * The MVCC store's database on a simulated server: the `MvccBackend` contract (atomic batches,
 * snapshot iterators) of the in-memory twin, with RocksDB's durability on the simulated disk.
 * The real node writes applied batches without fsync (`syncWrites: false`): the Raft log replays
 * what a power loss takes; only `flush`, restore markers and the like are synced.
 */
import type { BackendOp, BackendRange, MvccBackend } from "../../mvcc/backend.ts";
import { MemoryBackend } from "../../mvcc/memory-backend.ts";
import type { SimRandom } from "../random.ts";
import type { CrashKind, ProcessDisk } from "./disk.ts";
import { NEVER, WriteAheadLog } from "./disk.ts";

/** What the machine's store database holds: the durable pairs and the writes not yet synced. */
export class BackendImage {
  readonly durable = new Map<string, Buffer>();
  readonly wal: WriteAheadLog<BackendOp[]>;

  constructor() {
    this.wal = new WriteAheadLog((ops) => {
      for (const op of ops) {
        const k = op.key.toString("latin1");
        if (op.type === "put") this.durable.set(k, op.value);
        else this.durable.delete(k);
      }
    });
  }

  crash(kind: CrashKind, random: SimRandom): number {
    return this.wal.crash(kind, random);
  }
}

export class SimBackend implements MvccBackend {
  private constructor(
    private readonly image: BackendImage,
    private readonly disk: ProcessDisk,
    private readonly live: MemoryBackend,
  ) {}

  /** Opens the database as a restarted process finds it: what the image kept. */
  static async open(image: BackendImage, disk: ProcessDisk): Promise<SimBackend> {
    const live = new MemoryBackend();
    const ops: BackendOp[] = [...image.durable].map(([k, value]) => ({
      type: "put",
      key: Buffer.from(k, "latin1"),
      value,
    }));
    if (ops.length > 0) await live.write(ops, { sync: false });
    return new SimBackend(image, disk, live);
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.live.get(key);
  }

  async write(ops: BackendOp[], options: { sync: boolean }): Promise<void> {
    // Copies: the caller may reuse its buffers, and the durable image must not change with them.
    const copied: BackendOp[] = ops.map((op) =>
      op.type === "put"
        ? { type: "put", key: Buffer.from(op.key), value: Buffer.from(op.value) }
        : { type: "del", key: Buffer.from(op.key) },
    );
    if (!this.disk.alive) await NEVER;
    this.image.wal.append(copied);
    await this.disk.complete(options.sync);
    if (options.sync) this.image.wal.sync();
    await this.live.write(copied, { sync: false });
  }

  iterate(range: BackendRange): AsyncIterableIterator<[Buffer, Buffer]> {
    return this.live.iterate(range);
  }

  async close(): Promise<void> {}
}
