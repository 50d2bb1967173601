/**
 * Proposals this replica made and is waiting on: each resolves with the state machine's outcome
 * when its entry is applied here, or fails on timeout (the entry may still commit later; the
 * client retries with the same session seq, and the session table answers from its cache).
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../../actors/system/clock.ts";
import type { ApplyOutcome } from "../mvcc/responses.ts";
import { Waiters } from "./waiters.ts";

export class ProposalWaiters {
  private readonly waiters: Waiters<ApplyOutcome>;
  private nextId = 1;
  /**
   * Unique per process: after a restart the replica replays entries it proposed in its past
   * life, whose ids must not match a new caller's (the simulator found this in its own nodes).
   * Random unless given (a simulation derives it from its seed, so that a replay is exact).
   */
  private readonly incarnation: string;

  constructor(
    private readonly nodeId: string,
    clock: Clock,
    maxPending: number,
    incarnation: string = randomBytes(6).toString("hex"),
  ) {
    this.waiters = new Waiters(`proposals on ${nodeId}`, clock, maxPending);
    this.incarnation = incarnation;
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Registers a new proposal; the returned id goes into the entry. */
  register(timeoutMs: number): { requestId: string; outcome: Promise<ApplyOutcome> } {
    const requestId = `${this.nodeId}:${this.incarnation}:${this.nextId++}`;
    const message = `proposal not applied within ${timeoutMs} ms (retry with the same seq)`;
    return { requestId, outcome: this.waiters.wait(requestId, timeoutMs, message) };
  }

  /** The entry carrying `requestId` was applied here with `outcome`. */
  settle(requestId: string, outcome: ApplyOutcome): void {
    this.waiters.settle(requestId, outcome); // another replica's proposal: nobody waits here
  }

  fail(requestId: string, error: Error): void {
    this.waiters.fail(requestId, error);
  }

  failAll(error: Error): void {
    this.waiters.failAll(error);
  }
}
