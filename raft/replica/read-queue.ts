/**
 * Linearizable reads waiting their turn (Raft thesis §6.4, ReadIndex): a read is issued with a
 * unique context; the core answers with a ReadState naming the commit index at that moment; the
 * read may be served once the state machine has applied that index.
 */
import type { Clock, TimerId } from "../../actors/system/clock.ts";

interface PendingRead {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: TimerId;
  /** Set once the core has answered: the index to wait for. */
  index: number | null;
}

export class ReadQueue {
  private readonly pending = new Map<string, PendingRead>();
  private nextId = 1;

  constructor(
    private readonly nodeId: string,
    private readonly clock: Clock,
    private readonly maxPending: number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A new read; `ctx` goes to the core's readIndex, `ready` resolves when it may be served. */
  enqueue(timeoutMs: number): { ctx: Uint8Array; ready: Promise<void> } {
    if (this.pending.size >= this.maxPending) {
      throw new Error(`too many reads pending on ${this.nodeId} (${this.maxPending})`);
    }
    const id = `${this.nodeId}:${this.nextId++}`;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`linearizable read not confirmed within ${timeoutMs} ms (no leader?)`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, index: null });
    });
    return { ctx: new TextEncoder().encode(id), ready };
  }

  /** The core confirmed the read with `ctx` at commit index `index`. */
  confirmed(ctx: Uint8Array, index: number, appliedIndex: number): void {
    const read = this.pending.get(new TextDecoder().decode(ctx));
    if (read === undefined) return;
    read.index = index;
    this.release(appliedIndex);
  }

  /** Serves every confirmed read whose index is applied. */
  release(appliedIndex: number): void {
    for (const [id, read] of this.pending) {
      if (read.index === null || read.index > appliedIndex) continue;
      this.pending.delete(id);
      this.clock.clearTimeout(read.timer);
      read.resolve();
    }
  }

  failAll(error: Error): void {
    for (const [id, read] of this.pending) {
      this.pending.delete(id);
      this.clock.clearTimeout(read.timer);
      read.reject(error);
    }
  }
}
