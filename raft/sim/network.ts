/**
 * The simulated network between nodes and clients: per-message delay (hence reordering), loss,
 * duplication, and directed link cuts (symmetric and asymmetric partitions, leader isolation).
 * Delivery is bucketed by simulated millisecond; within a millisecond, in send order.
 *
 * With `fifoLinks`, messages from one sender to one receiver arrive in send order (a TCP
 * connection's guarantee, which the replica's transport gives it): a later message is never
 * delivered before an earlier one, only delayed behind it. The Raft core's simulation leaves it
 * off, since the core must survive any reordering.
 */
import type { SimRandom } from "./random.ts";

export interface Envelope<P> {
  from: string;
  to: string;
  payload: P;
}

export interface NetworkConditions {
  lossRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/** Why a message did not go out. */
export type DropReason = "loss" | "cut";

export class SimNetwork<P> {
  private readonly buckets = new Map<number, Envelope<P>[]>();
  /** Directed cuts: "a>b" means messages from a to b are dropped. */
  private readonly cuts = new Set<string>();
  /** Directed links with a loss rate of their own (a flaky link), instead of the network's. */
  private readonly linkLoss = new Map<string, number>();
  /** With fifoLinks: the latest delivery time scheduled on each directed link. */
  private readonly lastDueByLink = new Map<string, number>();
  private inFlight = 0;

  constructor(
    private readonly random: SimRandom,
    public conditions: NetworkConditions,
    private readonly fifoLinks = false,
  ) {}

  get size(): number {
    return this.inFlight;
  }

  /** Sends at `nowMs`; returns why it was dropped, or null if at least one copy is in flight. */
  send(nowMs: number, envelope: Envelope<P>): DropReason | null {
    if (this.isCut(envelope.from, envelope.to)) return "cut";
    const lossRate =
      this.linkLoss.size > 0
        ? (this.linkLoss.get(`${envelope.from}>${envelope.to}`) ?? this.conditions.lossRate)
        : this.conditions.lossRate;
    if (this.random.chance(lossRate)) return "loss";
    this.enqueue(this.dueAt(nowMs, envelope), envelope);
    if (this.random.chance(this.conditions.duplicateRate)) {
      this.enqueue(this.dueAt(nowMs, envelope), envelope);
    }
    return null;
  }

  private dueAt(nowMs: number, envelope: Envelope<P>): number {
    const due = nowMs + this.delay();
    if (!this.fifoLinks) return due;
    const link = `${envelope.from}>${envelope.to}`;
    const fifoDue = Math.max(due, this.lastDueByLink.get(link) ?? 0);
    this.lastDueByLink.set(link, fifoDue);
    return fifoDue;
  }

  /** Puts an envelope back, for a recipient that cannot take it yet (paused, busy disk). */
  defer(atMs: number, envelope: Envelope<P>): void {
    this.enqueue(atMs, envelope);
  }

  /**
   * Everything due at `nowMs`, in order. The caller drops those whose link was cut while they
   * were in flight (`isCut`), so that it can tell the sender when that matters.
   */
  takeDue(nowMs: number): Envelope<P>[] {
    const due = this.buckets.get(nowMs);
    if (due === undefined) return [];
    this.buckets.delete(nowMs);
    this.inFlight -= due.length;
    return due;
  }

  cut(from: string, to: string): void {
    this.cuts.add(`${from}>${to}`);
  }

  isCut(from: string, to: string): boolean {
    return this.cuts.size > 0 && this.cuts.has(`${from}>${to}`);
  }

  healAll(): void {
    this.cuts.clear();
  }

  /** Makes the link from → to lose messages at `rate` (null: the network's rate again). */
  setLinkLoss(from: string, to: string, rate: number | null): void {
    if (rate === null) this.linkLoss.delete(`${from}>${to}`);
    else this.linkLoss.set(`${from}>${to}`, rate);
  }

  describeCuts(): string {
    return [...this.cuts].sort().join(" ");
  }

  private delay(): number {
    return this.random.between(this.conditions.minDelayMs, this.conditions.maxDelayMs);
  }

  private enqueue(atMs: number, envelope: Envelope<P>): void {
    let bucket = this.buckets.get(atMs);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(atMs, bucket);
    }
    bucket.push(envelope);
    this.inFlight++;
  }
}
