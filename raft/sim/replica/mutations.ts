/**
 * Planted bugs in the replica layer, one at a time, to show what the simulator catches (as the
 * core's mutation check does for raft/core, raft/sim/README.md). Each is a subclass of the real
 * `Replica` (or of one of its parts) overriding the member that carries the bug; the simulator
 * builds its servers' replicas with `replicaFactory(mutation)`. Nothing here runs in a real node.
 */
import type { Clock } from "../../../actors/system/clock.ts";
import { decodeConfChange, type Entry } from "../../core/messages.ts";
import type { CommittedEntry } from "../../mvcc/commands.ts";
import { decodeProposal, encodeProposal } from "../../replica/entry-codec.ts";
import { ReadQueue } from "../../replica/read-queue.ts";
import { Replica, type ReplicaOptions } from "../../replica/replica.ts";

export const REPLICA_MUTATIONS = {
  "read-release-off-by-3":
    "ReadQueue.release serves a confirmed read once appliedIndex + 3 reaches its ReadIndex",
  "read-before-confirmed":
    "a linearizable read is served at the next Ready, before the leader confirmed its ReadIndex",
  "reproposal-without-session":
    "after a leader change, pending proposals are proposed again without their session stamp",
  "snapshot-over-newer-state":
    "on restart, the log's snapshot is installed in the store although the store applied past it",
  "waiters-shifted-by-leader-noop":
    "a new leader's empty entry is left out when outcomes are paired with waiting proposals, " +
    "so the proposals applied after it get their neighbour's outcome",
} as const;

export type ReplicaMutation = keyof typeof REPLICA_MUTATIONS;

export function isReplicaMutation(name: string): name is ReplicaMutation {
  return Object.hasOwn(REPLICA_MUTATIONS, name);
}

export type ReplicaFactory = (options: ReplicaOptions) => Replica;

export function replicaFactory(mutation: ReplicaMutation | null): ReplicaFactory {
  switch (mutation) {
    case null:
      return (o) => new Replica(o);
    case "read-release-off-by-3":
      return (o) => new OffByThreeReadReplica(o);
    case "read-before-confirmed":
      return (o) => new UnconfirmedReadReplica(o);
    case "reproposal-without-session":
      return (o) => new SessionlessReproposalReplica(o);
    case "snapshot-over-newer-state":
      return (o) => new SnapshotOverNewerStateReplica(o);
    case "waiters-shifted-by-leader-noop":
      return (o) => new NoopShiftedWaitersReplica(o);
  }
}

// ---- read-release-off-by-3 -------------------------------------------------------------------

class OffByThreeReadQueue extends ReadQueue {
  override release(appliedIndex: number): void {
    super.release(appliedIndex + 3);
  }
}

class OffByThreeReadReplica extends Replica {
  protected override newReadQueue(clock: Clock): ReadQueue {
    return new OffByThreeReadQueue(this.nodeId, clock, this.limits.maxPendingReads);
  }
}

// ---- read-before-confirmed -------------------------------------------------------------------

class UnconfirmedReadQueue extends ReadQueue {
  override enqueue(timeoutMs: number): { ctx: Uint8Array; ready: Promise<void> } {
    const read = super.enqueue(timeoutMs);
    // as if confirmed at index 0: the next release serves it, whatever the leader says later
    this.confirmedAt.set(new TextDecoder().decode(read.ctx), 0);
    return read;
  }
}

class UnconfirmedReadReplica extends Replica {
  protected override newReadQueue(clock: Clock): ReadQueue {
    return new UnconfirmedReadQueue(this.nodeId, clock, this.limits.maxPendingReads);
  }
}

// ---- reproposal-without-session --------------------------------------------------------------

class SessionlessReproposalReplica extends Replica {
  protected override proposeAgain(): void {
    for (const [requestId, data] of this.resendable) {
      const { envelope } = decodeProposal(data);
      const bare = encodeProposal({ requestId, envelope: { command: envelope.command } });
      this.resendable.set(requestId, bare);
    }
    super.proposeAgain();
  }
}

// ---- snapshot-over-newer-state ---------------------------------------------------------------

class SnapshotOverNewerStateReplica extends Replica {
  protected override async recoverStore(): Promise<number> {
    const { store, log } = this.options;
    // the index the core starts from is read first, then the snapshot goes in regardless
    const applied = Math.max(store.appliedIndex, log.snapshot().metadata.index);
    await this.installLogSnapshot();
    return Math.min(applied, log.initialState().hardState.commit);
  }
}

// ---- waiters-shifted-by-leader-noop ---------------------------------------------------------

class NoopShiftedWaitersReplica extends Replica {
  protected override async apply(entries: Entry[]): Promise<void> {
    const store = this.options.store;
    let batch: CommittedEntry[] = [];
    // the bug: request ids kept apart from the batch, and the empty entry adds none
    let requestIds: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const [current, ids] = [batch, requestIds];
      batch = [];
      requestIds = [];
      const outcomes = await store.applyBatch(current);
      outcomes.forEach((outcome, i) => {
        const requestId = ids[i];
        if (requestId !== undefined) this.proposals.settle(requestId, outcome);
      });
    };
    for (const entry of entries) {
      if (entry.type === "confChange") {
        await flush();
        await store.applyBatch([{ index: entry.index }]);
        this.applyConfChange(decodeConfChange(entry.data));
        continue;
      }
      if (entry.data.byteLength === 0) {
        batch.push({ index: entry.index });
        continue;
      }
      const proposal = decodeProposal(entry.data);
      batch.push({ index: entry.index, envelope: proposal.envelope });
      requestIds.push(proposal.requestId);
    }
    await flush();
  }
}
