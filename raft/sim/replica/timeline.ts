/**
 * Simulated time for a whole replica cluster in one process, and the deterministic scheduler
 * that makes its async code replay exactly.
 *
 * Every timer of every simulated process (xstate delays, Raft ticks, ask and waiter timeouts,
 * disk completions, network deliveries scheduled by the simulator) lives in one `Timeline`,
 * ordered by (due time, creation order). A process sees it through its own `ProcessClock`, which
 * the simulator kills when the process crashes (its timers never fire again) and pauses when the
 * process is SIGSTOPped (its timers wait until it resumes).
 *
 * Why this replays exactly although the replica is async: JavaScript runs promise reactions
 * from one FIFO microtask queue, so the code's interleaving is a pure function of what starts it.
 * The only other sources of order are macrotasks (timers, I/O) and randomness; the simulation
 * has no I/O, draws every random choice from its seed, and keeps every timer here. The
 * simulator fires the timers due at one simulated millisecond synchronously, then lets the
 * microtask queue run dry (`drainMicrotasks`: one macrotask hop, which Node takes only once the
 * queue is empty), and repeats until nothing is due at that millisecond.
 */
import type { Clock, TimerId } from "../../../actors/system/clock.ts";

interface TimelineTimer {
  id: TimerId;
  dueMs: number;
  owner: ProcessClock;
  fn: () => void;
}

/** Epoch of simulated wall time (what `wallMs()` adds to simulated ms), fixed for replays. */
const SIM_EPOCH_MS = 1_700_000_000_000;

export class Timeline {
  private now = 0;
  private nextId = 1;
  /** Binary min-heap on (dueMs, id); cancelled timers are skipped when popped. */
  private readonly heap: TimelineTimer[] = [];
  private readonly live = new Map<TimerId, TimelineTimer>();

  get nowMs(): number {
    return this.now;
  }

  /** Moves time to `ms` (never backwards). Timers due earlier must have been run. */
  advanceTo(ms: number): void {
    if (ms < this.now) throw new Error(`timeline: time moves backwards (${ms} < ${this.now})`);
    this.now = ms;
  }

  /** The due time of the earliest live timer, or Infinity. */
  nextDueMs(): number {
    this.dropCancelledTop();
    return this.heap[0]?.dueMs ?? Number.POSITIVE_INFINITY;
  }

  add(owner: ProcessClock, delayMs: number, fn: () => void): TimerId {
    const timer: TimelineTimer = {
      id: this.nextId++,
      dueMs: this.now + Math.max(0, Math.ceil(delayMs)),
      owner,
      fn,
    };
    this.live.set(timer.id, timer);
    this.push(timer);
    return timer.id;
  }

  cancel(id: TimerId): void {
    this.live.delete(id);
  }

  /**
   * Runs every timer due at or before now, in order, including timers they add for now. A timer
   * of a dead process is dropped; one of a paused process is put back for when it resumes.
   * Returns how many ran.
   */
  runDue(): number {
    let ran = 0;
    for (;;) {
      this.dropCancelledTop();
      const top = this.heap[0];
      if (top === undefined || top.dueMs > this.now) return ran;
      this.pop();
      this.live.delete(top.id);
      if (!top.owner.alive) continue;
      if (top.owner.pausedUntilMs > this.now) {
        const again: TimelineTimer = { ...top, dueMs: top.owner.pausedUntilMs };
        this.live.set(again.id, again);
        this.push(again);
        continue;
      }
      ran++;
      top.fn();
    }
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.live.get(this.heap[0]!.id) !== this.heap[0]) this.pop();
  }

  private less(a: TimelineTimer, b: TimelineTimer): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.id < b.id);
  }

  private push(t: TimelineTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** One simulated process's clock: its timers die with it and wait while it is paused. */
export class ProcessClock implements Clock {
  /** False once the process crashed: this incarnation's timers never fire again. */
  alive = true;
  /** While greater than now, the process is stopped (SIGSTOP): its timers wait. */
  pausedUntilMs = -1;

  constructor(
    private readonly timeline: Timeline,
    readonly owner: string,
  ) {}

  nowMs(): number {
    return this.timeline.nowMs;
  }

  wallMs(): number {
    return SIM_EPOCH_MS + this.timeline.nowMs;
  }

  setTimeout(fn: () => void, delayMs: number): TimerId {
    return this.timeline.add(this, delayMs, fn);
  }

  clearTimeout(id: TimerId): void {
    this.timeline.cancel(id);
  }

  isRunning(): boolean {
    return this.alive && this.pausedUntilMs <= this.timeline.nowMs;
  }
}

/**
 * Resolves once every microtask queued so far, and every microtask those queue, has run: Node
 * runs a setImmediate callback only with an empty microtask queue. The simulation schedules no
 * macrotasks of its own besides this one, so nothing else of it can run in between.
 */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
