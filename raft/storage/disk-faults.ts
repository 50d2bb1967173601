/**
 * A slow-disk failpoint for chaos runs (DESIGN §8): every fsync'd batch of the Raft log waits
 * `syncDelayMs` before it is written, as on a disk whose fsync stalls. A follower with a slow
 * disk acknowledges late; a leader with one commits late and may lose its Leases. Off (0) by
 * default; a node creates one only when started with --faults, and `POST /admin/disk-faults`
 * sets it.
 */
import { type Clock, sleep } from "../../actors/system/clock.ts";

/** Longest injectable fsync stall: long enough to outlast any election timeout. */
export const MAX_SYNC_DELAY_MS = 10_000;

export class DiskFaultPoint {
  private delayMs = 0;

  constructor(private readonly clock: Clock) {}

  get syncDelayMs(): number {
    return this.delayMs;
  }

  /** Validates a value from outside (the admin endpoint); throws RangeError. */
  setSyncDelayMs(value: unknown): void {
    if (
      typeof value !== "number" ||
      !Number.isInteger(value) ||
      value < 0 ||
      value > MAX_SYNC_DELAY_MS
    ) {
      throw new RangeError(`syncDelayMs must be an integer in [0, ${MAX_SYNC_DELAY_MS}]`);
    }
    this.delayMs = value;
  }

  /** Waits before an fsync'd write while the fault is on. */
  async beforeSync(): Promise<void> {
    if (this.delayMs > 0) await sleep(this.clock, this.delayMs);
  }
}
