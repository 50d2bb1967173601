/**
 * The simulated disk of one server machine, shared by its two databases (the Raft log and the
 * MVCC store, each a RocksDB instance on the real node).
 *
 * Durability follows a write-ahead log: a write is appended when it is issued and becomes durable
 * only when a sync covers it (a synced write makes every earlier write of that database durable,
 * as an fsync of RocksDB's WAL does). What a crash keeps of the rest depends on how the process
 * died:
 * - killed (kill -9): the OS still has every write the process issued; nothing is lost;
 * - power loss: of the writes issued since the last sync, a prefix survives (the OS may have
 *   written some back; RocksDB recovers its WAL up to the last intact record), chosen by the
 *   seed. The log and the store lose independently: they are two databases.
 *
 * Latency: a synced write takes `syncDelayMs` (0 on a healthy disk, a few ms in a hiccup, tens
 * while the disk is slow); an unsynced one completes at once, on a later turn of the process's
 * event loop. Completions are timers on the process's clock, so they stop with the process.
 */
import type { SimRandom } from "../random.ts";
import type { ProcessClock } from "./timeline.ts";

export type CrashKind = "kill" | "power loss";

export interface DiskLatency {
  slowDiskSyncMs: [number, number];
  hiccupSyncMs: [number, number];
  /** Per synced write: probability that even a healthy disk takes a few ms. */
  hiccupRate: number;
}

/** The machine's disk: how long a sync takes now. */
export class MachineDisk {
  /** While greater than now, every sync is slow. */
  slowUntilMs = -1;

  constructor(
    private readonly random: SimRandom,
    private readonly latency: DiskLatency,
  ) {}

  syncDelayMs(nowMs: number, hiccups: boolean): number {
    const l = this.latency;
    if (this.slowUntilMs > nowMs) return this.random.between(...l.slowDiskSyncMs);
    if (hiccups && this.random.chance(l.hiccupRate)) return this.random.between(...l.hiccupSyncMs);
    return 0;
  }
}

/**
 * One database's writes on the way to durability. `Op` is whatever the database replays onto
 * its durable image (`makeDurable`).
 */
export class WriteAheadLog<Op> {
  private pending: Op[] = [];

  constructor(private readonly makeDurable: (op: Op) => void) {}

  /** Issued: on disk only once synced (or if a crash happens to keep it). */
  append(op: Op): void {
    this.pending.push(op);
  }

  /** An fsync finished: every write issued so far is durable. */
  sync(): void {
    const ops = this.pending;
    this.pending = [];
    for (const op of ops) this.makeDurable(op);
  }

  /** The process died: keeps what the kind of crash keeps; returns how many writes were lost. */
  crash(kind: CrashKind, random: SimRandom): number {
    const keep = kind === "kill" ? this.pending.length : random.int(this.pending.length + 1);
    const lost = this.pending.length - keep;
    const kept = this.pending.slice(0, keep);
    this.pending = [];
    for (const op of kept) this.makeDurable(op);
    return lost;
  }

  get unsynced(): number {
    return this.pending.length;
  }
}

/** How one process reaches the machine's disk: completions on the process's own clock. */
/** A promise that never settles: what a write issued by a dead process waits for. */
export const NEVER: Promise<never> = new Promise(() => undefined);

export class ProcessDisk {
  constructor(
    private readonly machine: MachineDisk,
    private readonly clock: ProcessClock,
    /** Hiccups only while faults are on: after healing, the cluster must converge quickly. */
    private readonly hiccups: () => boolean,
  ) {}

  /**
   * False once the process died. Its code may still run for the rest of the simulated ms (the
   * microtasks the crash found queued), but nothing it writes reaches the disk any more: each
   * database checks this before it issues a write, and a dead process's write never completes.
   */
  get alive(): boolean {
    return this.clock.alive;
  }

  /** Resolves when a write issued now completes; never, if the process dies first. */
  complete(sync: boolean): Promise<void> {
    const delayMs = sync ? this.machine.syncDelayMs(this.clock.nowMs(), this.hiccups()) : 0;
    return new Promise((resolve) => this.clock.setTimeout(resolve, delayMs));
  }
}
