/**
 * Callers waiting for something the Raft loop will produce later, each with a deadline on the
 * injected clock and a bound on how many may wait at once.
 */
import type { Clock, TimerId } from "../../actors/system/clock.ts";

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: TimerId;
}

export class Waiters<T> {
  private readonly waiting = new Map<string, Waiter<T>>();

  constructor(
    private readonly what: string,
    private readonly clock: Clock,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  has(id: string): boolean {
    return this.waiting.has(id);
  }

  /** Starts waiting for `id`; rejects with `timeoutMessage` after `timeoutMs`. */
  wait(id: string, timeoutMs: number, timeoutMessage: string): Promise<T> {
    if (this.waiting.size >= this.max) {
      return Promise.reject(new Error(`too many ${this.what} pending (${this.max})`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(timeoutMessage));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
    });
  }

  settle(id: string, value: T): void {
    const waiter = this.take(id);
    waiter?.resolve(value);
  }

  fail(id: string, error: Error): void {
    const waiter = this.take(id);
    waiter?.reject(error);
  }

  failAll(error: Error): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, error);
  }

  private take(id: string): Waiter<T> | undefined {
    const waiter = this.waiting.get(id);
    if (waiter === undefined) return undefined;
    this.waiting.delete(id);
    this.clock.clearTimeout(waiter.timer);
    return waiter;
  }
}
