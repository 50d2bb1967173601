/**
 * The window of MsgApps a leader has sent to one follower and not yet seen acknowledged
 * (etcd-io/raft's tracker/inflights.go). Bounded by maxInflightMsgs: when full, the leader stops
 * sending to that follower until acks free slots, so a slow follower cannot make the leader
 * buffer without limit.
 *
 * Each slot records the last entry index of one MsgApp; indexes are added in increasing order.
 */
import { invariant } from "./errors.ts";

export class Inflights {
  private readonly buffer: number[] = [];
  private start = 0;
  private countNow = 0;

  constructor(readonly capacity: number) {
    invariant(
      Number.isInteger(capacity) && capacity > 0,
      `inflights capacity must be positive, got ${capacity}`,
    );
  }

  /** Records a MsgApp whose last entry is `index`. Must not be full. */
  add(index: number): void {
    invariant(!this.full(), "cannot add into a full inflights window");
    if (this.countNow > 0) {
      const last = this.buffer[(this.start + this.countNow - 1) % this.capacity]!;
      invariant(index > last, () => `inflights must grow: ${index} after ${last}`);
    }
    this.buffer[(this.start + this.countNow) % this.capacity] = index;
    this.countNow++;
  }

  /** Frees every slot whose index is <= `to` (those MsgApps are acknowledged). */
  freeLE(to: number): void {
    while (this.countNow > 0 && this.buffer[this.start]! <= to) {
      this.start = (this.start + 1) % this.capacity;
      this.countNow--;
    }
    if (this.countNow === 0) this.start = 0;
  }

  /** Frees the oldest slot (a heartbeat response proved the follower alive, etcd's habit). */
  freeFirstOne(): void {
    if (this.countNow === 0) return;
    this.freeLE(this.buffer[this.start]!);
  }

  full(): boolean {
    return this.countNow === this.capacity;
  }

  count(): number {
    return this.countNow;
  }

  /** An independent copy (a conf change works on copies of the progress map). */
  clone(): Inflights {
    const c = new Inflights(this.capacity);
    for (let i = 0; i < this.countNow; i++) c.add(this.buffer[(this.start + i) % this.capacity]!);
    return c;
  }

  reset(): void {
    this.start = 0;
    this.countNow = 0;
  }
}
