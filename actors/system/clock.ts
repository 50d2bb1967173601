/**
 * The injectable clock. `Date.now()` and `setTimeout` appear only in this file: every timer in
 * bosun (xstate delays, backoffs, ask timeouts, election timeouts) goes through a Clock, so that
 * any statechart can run under simulated time.
 *
 * The shape of `setTimeout`/`clearTimeout` matches xstate's own `clock` option, so a Clock can be
 * passed straight to `createActor(machine, { clock })`.
 */
export type TimerId = number;

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  nowMs(): number;
  /** Wall-clock milliseconds since the epoch, for timestamps shown to humans. */
  wallMs(): number;
  setTimeout(fn: () => void, delayMs: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** The real clock: monotonic `performance.now()` and the event loop's timers. */
export class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<TimerId, NodeJS.Timeout>();

  nowMs(): number {
    return performance.now();
  }

  wallMs(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerId {
    const id = this.nextId++;
    const handle = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, delayMs);
    this.timers.set(id, handle);
    return id;
  }

  clearTimeout(id: TimerId): void {
    const handle = this.timers.get(id);
    if (handle !== undefined) {
      clearTimeout(handle);
      this.timers.delete(id);
    }
  }
}

interface ManualTimer {
  id: TimerId;
  dueMs: number;
  fn: () => void;
}

/**
 * Simulated time: timers fire only when `advance` moves time past them, in due order (ties in
 * creation order), so a run is a pure function of its inputs.
 */
export class ManualClock implements Clock {
  private currentMs: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  constructor(
    startMs = 0,
    private readonly epochMs = 1_700_000_000_000,
  ) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  wallMs(): number {
    return this.epochMs + this.currentMs;
  }

  setTimeout(fn: () => void, delayMs: number): TimerId {
    const id = this.nextId++;
    this.timers.push({ id, dueMs: this.currentMs + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Number of timers still waiting. */
  pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `deltaMs`, firing every timer that falls due on the way. */
  advance(deltaMs: number): void {
    if (deltaMs < 0) throw new Error(`ManualClock.advance: negative delta ${deltaMs}`);
    const targetMs = this.currentMs + deltaMs;
    for (;;) {
      const next = this.earliestDue(targetMs);
      if (next === undefined) break;
      this.timers = this.timers.filter((t) => t.id !== next.id);
      this.currentMs = next.dueMs;
      next.fn();
    }
    this.currentMs = targetMs;
  }

  private earliestDue(limitMs: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (t.dueMs > limitMs) continue;
      if (
        best === undefined ||
        t.dueMs < best.dueMs ||
        (t.dueMs === best.dueMs && t.id < best.id)
      ) {
        best = t;
      }
    }
    return best;
  }
}

/** Resolves after `delayMs` on `clock`. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, delayMs));
}
