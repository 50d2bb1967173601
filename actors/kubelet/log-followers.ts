/**
 * The kubelet's bound on `kubectl logs -f` streams. A stream is polled by its API server (one
 * `kubelet.logs` ask per poll, each naming the stream's follower id); this counts the streams
 * that polled recently and refuses a new one past `maxLogFollowers`. A stream ends with an
 * explicit release, or — when its API server went away without one — after
 * `logFollowerIdleMs` without a poll. Time is the injected clock's.
 */
import type { Clock } from "../system/clock.ts";
import type { KubeletLimits } from "./limits.ts";

export class LogFollowers {
  /** Follower id → when it last polled (monotonic ms); never more than maxLogFollowers. */
  private readonly lastPollMs = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: Pick<KubeletLimits, "maxLogFollowers" | "logFollowerIdleMs">,
  ) {}

  /** Counts a poll of `id`; false when `id` is a new stream and the limit is reached. */
  admit(id: string): boolean {
    const nowMs = this.clock.nowMs();
    this.forgetIdle(nowMs);
    if (!this.lastPollMs.has(id) && this.lastPollMs.size >= this.limits.maxLogFollowers)
      return false;
    this.lastPollMs.set(id, nowMs);
    return true;
  }

  release(id: string): void {
    this.lastPollMs.delete(id);
  }

  /** Streams followed now. */
  count(): number {
    this.forgetIdle(this.clock.nowMs());
    return this.lastPollMs.size;
  }

  private forgetIdle(nowMs: number): void {
    for (const [id, atMs] of this.lastPollMs)
      if (nowMs - atMs > this.limits.logFollowerIdleMs) this.lastPollMs.delete(id);
  }
}
