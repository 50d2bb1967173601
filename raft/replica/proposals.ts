/**
 * Proposals this replica made and is waiting on: each resolves with the state machine's outcome
 * when its entry is applied here, or fails on timeout (the entry may still commit later; the
 * client retries with the same session seq, and the session table answers from its cache).
 */
import type { Clock, TimerId } from "../../actors/system/clock.ts";
import type { ApplyOutcome } from "../mvcc/responses.ts";

interface Waiter {
  resolve: (outcome: ApplyOutcome) => void;
  reject: (error: Error) => void;
  timer: TimerId;
}

export class ProposalWaiters {
  private readonly waiting = new Map<string, Waiter>();
  private nextId = 1;

  constructor(
    private readonly nodeId: string,
    private readonly clock: Clock,
    private readonly maxPending: number,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  /** Registers a new proposal; the returned id goes into the entry. */
  register(timeoutMs: number): { requestId: string; outcome: Promise<ApplyOutcome> } {
    if (this.waiting.size >= this.maxPending) {
      throw new Error(`too many proposals pending on ${this.nodeId} (${this.maxPending})`);
    }
    const requestId = `${this.nodeId}:${this.nextId++}`;
    const outcome = new Promise<ApplyOutcome>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiting.delete(requestId);
        reject(new Error(`proposal not applied within ${timeoutMs} ms (retry with the same seq)`));
      }, timeoutMs);
      this.waiting.set(requestId, { resolve, reject, timer });
    });
    return { requestId, outcome };
  }

  /** The entry carrying `requestId` was applied here with `outcome`. */
  settle(requestId: string, outcome: ApplyOutcome): void {
    const waiter = this.waiting.get(requestId);
    if (waiter === undefined) return; // another replica's proposal, or a timed-out one
    this.waiting.delete(requestId);
    this.clock.clearTimeout(waiter.timer);
    waiter.resolve(outcome);
  }

  fail(requestId: string, error: Error): void {
    const waiter = this.waiting.get(requestId);
    if (waiter === undefined) return;
    this.waiting.delete(requestId);
    this.clock.clearTimeout(waiter.timer);
    waiter.reject(error);
  }

  failAll(error: Error): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, error);
  }
}
