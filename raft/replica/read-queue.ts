/**
 * Linearizable reads waiting their turn (Raft thesis §6.4, ReadIndex): a read is issued with a
 * unique context; the core answers with a ReadState naming the commit index at that moment; the
 * read may be served once the state machine has applied that index.
 */
import type { Clock } from "../../actors/system/clock.ts";
import { Waiters } from "./waiters.ts";

export class ReadQueue {
  private readonly waiters: Waiters<void>;
  /** Confirmed reads: the index each waits for. (Protected: the simulator plants bugs here.) */
  protected readonly confirmedAt = new Map<string, number>();
  private nextId = 1;
  /** Ids of the reads still waiting, confirmed or not. */
  private readonly pending = new Set<string>();

  constructor(
    private readonly nodeId: string,
    clock: Clock,
    maxPending: number,
  ) {
    this.waiters = new Waiters(`reads on ${nodeId}`, clock, maxPending);
  }

  get size(): number {
    return this.waiters.size;
  }

  /** A new read; `ctx` goes to the core's readIndex, `ready` resolves when it may be served. */
  enqueue(timeoutMs: number): { ctx: Uint8Array; ready: Promise<void> } {
    const id = `${this.nodeId}:${this.nextId++}`;
    const message = `linearizable read not confirmed within ${timeoutMs} ms (no leader?)`;
    this.pending.add(id);
    const ready = this.waiters.wait(id, timeoutMs, message).finally(() => {
      this.confirmedAt.delete(id);
      this.pending.delete(id);
    });
    return { ctx: new TextEncoder().encode(id), ready };
  }

  /** The core confirmed the read with `ctx` at commit index `index`. */
  confirmed(ctx: Uint8Array, index: number, appliedIndex: number): void {
    const id = new TextDecoder().decode(ctx);
    if (!this.waiters.has(id)) return; // timed out already, or another replica's read
    this.confirmedAt.set(id, index);
    this.release(appliedIndex);
  }

  /** Serves every confirmed read whose index is applied. */
  release(appliedIndex: number): void {
    for (const [id, index] of this.confirmedAt) {
      if (index <= appliedIndex) this.waiters.settle(id, undefined);
    }
  }

  /**
   * The contexts of reads not yet confirmed: after a leader change they are asked again, since a
   * ReadIndex request forwarded to a leader that died is lost without an answer.
   */
  unconfirmed(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const id of this.pending)
      if (!this.confirmedAt.has(id) && this.waiters.has(id)) out.push(new TextEncoder().encode(id));
    return out;
  }

  failAll(error: Error): void {
    this.waiters.failAll(error);
  }
}
