import type { Clock, TimerId } from "./clock.ts";

/**
 * A clock that runs at another rate than the one it wraps, and shows another wall time: the
 * chaos suite's clock-skew fault (a VM whose clock drifts, an NTP step), set at run time on a
 * node started with `--faults` (`POST /admin/clock-skew`).
 *
 * - `rate` scales monotonic time: at 0.5 this node sees 500 ms pass while 1 s passes outside,
 *   and its timers fire twice as late. Leases are safe only while rates stay close to 1: a
 *   holder renews within `renewDeadline` of *its* time while the others wait `leaseDuration`
 *   of *theirs* (client-go's documented assumption).
 * - `wallOffsetMs` steps the wall clock (timestamps written into objects), which no decision
 *   may depend on.
 * A change applies from now on: monotonic time stays continuous, and timers already set keep
 * their real due time.
 */
export interface ClockSkew {
  rate: number;
  wallOffsetMs: number;
}

export const NO_SKEW: Readonly<ClockSkew> = Object.freeze({ rate: 1, wallOffsetMs: 0 });
/** Bounds on what the admin endpoint accepts: a node must keep running, if oddly. */
export const MIN_CLOCK_RATE = 0.1;
export const MAX_CLOCK_RATE = 10;
export const MAX_WALL_OFFSET_MS = 24 * 3_600_000;

/** Validates a skew from outside (the admin endpoint); absent fields keep their no-skew value. */
export function parseClockSkew(body: unknown): ClockSkew {
  const o = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const rate = o.rate ?? NO_SKEW.rate;
  const wallOffsetMs = o.wallOffsetMs ?? NO_SKEW.wallOffsetMs;
  if (typeof rate !== "number" || !(rate >= MIN_CLOCK_RATE && rate <= MAX_CLOCK_RATE))
    throw new RangeError(`rate must be a number in [${MIN_CLOCK_RATE}, ${MAX_CLOCK_RATE}]`);
  if (
    typeof wallOffsetMs !== "number" ||
    !Number.isFinite(wallOffsetMs) ||
    Math.abs(wallOffsetMs) > MAX_WALL_OFFSET_MS
  )
    throw new RangeError(`wallOffsetMs must be a number within ±${MAX_WALL_OFFSET_MS}`);
  return { rate, wallOffsetMs };
}

export class SkewedClock implements Clock {
  private skewNow: ClockSkew = NO_SKEW;
  /** Where the current rate took over: inner and skewed monotonic times then. */
  private baseInnerMs: number;
  private baseSkewedMs: number;

  constructor(private readonly inner: Clock) {
    this.baseInnerMs = inner.nowMs();
    this.baseSkewedMs = this.baseInnerMs;
  }

  get skew(): ClockSkew {
    return { ...this.skewNow };
  }

  set(skew: ClockSkew): void {
    this.baseSkewedMs = this.nowMs();
    this.baseInnerMs = this.inner.nowMs();
    this.skewNow = { ...skew };
  }

  nowMs(): number {
    return this.baseSkewedMs + (this.inner.nowMs() - this.baseInnerMs) * this.skewNow.rate;
  }

  /** The wall clock drifts with the rate, plus the step. */
  wallMs(): number {
    return this.inner.wallMs() + this.skewNow.wallOffsetMs + (this.nowMs() - this.inner.nowMs());
  }

  setTimeout(fn: () => void, delayMs: number): TimerId {
    return this.inner.setTimeout(fn, delayMs / this.skewNow.rate);
  }

  clearTimeout(id: TimerId): void {
    this.inner.clearTimeout(id);
  }
}
