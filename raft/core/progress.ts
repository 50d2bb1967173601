/**
 * The leader's view of one follower (etcd-io/raft's tracker/progress.go): Raft §5.3's
 * matchIndex and nextIndex, plus a flow-control state:
 *
 * - probe: we do not know where the follower's log diverges; send one MsgApp at a time and wait
 *   for the answer (or a heartbeat) before the next;
 * - replicate: the follower is in sync; stream MsgApps optimistically, bounded by Inflights;
 * - snapshot: the follower needs entries we compacted; a snapshot is on its way, send nothing.
 */
import { Inflights } from "./inflights.ts";
import type { ProgressState, ProgressStatus } from "./status.ts";

export class Progress {
  match: number;
  next: number;
  state: ProgressState = "probe";
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from within the current election timeout (check-quorum); reset by the leader. */
  recentActive = false;
  /** Probe: a MsgApp is outstanding. Replicate: the inflights window is full. */
  msgAppFlowPaused = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(opts: {
    match: number;
    next: number;
    maxInflight: number;
    isLearner: boolean;
    recentActive?: boolean;
    inflights?: Inflights;
  }) {
    this.match = opts.match;
    this.next = opts.next;
    this.inflights = opts.inflights ?? new Inflights(opts.maxInflight);
    this.isLearner = opts.isLearner;
    this.recentActive = opts.recentActive ?? false;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      // The snapshot may have been applied: resume right after it (or after match if higher).
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** Bookkeeping after sending a MsgApp of `entryCount` entries starting at `firstIndex`. */
  updateOnEntriesSend(entryCount: number, firstIndex: number): void {
    switch (this.state) {
      case "replicate":
        if (entryCount > 0) {
          const last = firstIndex + entryCount - 1;
          this.next = last + 1; // optimistic: assume it will be accepted (pipelining)
          this.inflights.add(last);
        }
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case "probe":
        // One probe at a time: wait for its answer or for the next heartbeat response.
        this.msgAppFlowPaused = true;
        break;
      case "snapshot":
        throw new Error(`sending MsgApp in snapshot state`);
    }
  }

  /** An ack for `n` arrived. Returns whether match moved forward. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A MsgApp at `rejected` was refused; `matchHint` is the highest index that may still match.
   * Returns false when the rejection is stale (out of order) and must be ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      // Stale unless it refers to an index above match; then fall back to match + 1.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the latest probe (at next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.msgAppFlowPaused;
      case "replicate":
        return this.msgAppFlowPaused;
      case "snapshot":
        return true;
    }
  }

  toStatus(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      pendingSnapshot: this.pendingSnapshot,
      recentActive: this.recentActive,
      paused: this.isPaused(),
      inflightCount: this.inflights.count(),
      isLearner: this.isLearner,
    };
  }

  clone(): Progress {
    const p = new Progress({
      match: this.match,
      next: this.next,
      maxInflight: this.inflights.capacity,
      isLearner: this.isLearner,
      recentActive: this.recentActive,
      inflights: this.inflights.clone(),
    });
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    return p;
  }
}
