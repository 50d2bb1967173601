/**
 * One server's Raft replica (DESIGN §5): the pure core driven by the role statechart, the
 * durable log, the MVCC state machine, and the transport, glued by the Ready loop:
 *
 *   Ready → send `messages` → persist snapshot/entries/hard state (fsync) → send
 *   `messagesAfterPersist` → apply committed entries to the store → serve reads → ADVANCE.
 *
 * Proposals from any replica are accepted (the core forwards them to the leader); the replica
 * that proposed an entry resolves its caller when the entry is applied locally.
 */
import type { Logger } from "pino";
import type { AnyActorRef } from "xstate";
import type { ActorSystem } from "../../actors/system/actor-system.ts";
import type { Clock } from "../../actors/system/clock.ts";
import type { ActorMessage } from "../../actors/system/message.ts";
import type { ProposalDroppedError } from "../core/errors.ts";
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  encodeConfChange,
  type Message,
  type MsgSnap,
  type NodeId,
} from "../core/messages.ts";
import { RaftNode } from "../core/raft.ts";
import type { Ready, SoftState } from "../core/ready.ts";
import type { CommandEnvelope, CommittedEntry } from "../mvcc/commands.ts";
import type { ApplyOutcome } from "../mvcc/responses.ts";
import type { MvccStore } from "../mvcc/store.ts";
import { raftRole } from "../role.ts";
import { decodeProposal, encodeProposal } from "./entry-codec.ts";
import { ProposalWaiters } from "./proposals.ts";
import { ReadQueue } from "./read-queue.ts";
import type { ReplicaLog } from "./replica-log.ts";
import { SessionExpiry } from "./session-expiry.ts";
import { SnapshotAssembler, type SnapshotChunk, splitSnapshot } from "./snapshot-chunks.ts";

export interface ReplicaOptions {
  system: ActorSystem;
  log: ReplicaLog;
  store: MvccStore;
  logger: Logger;
  /** Seed of the election-timeout jitter; distinct per node. */
  randomSeed: number;
  /**
   * Names this process's life in its proposals' request ids (random unless given; the simulator
   * derives it from its seed so that a replay is exact).
   */
  incarnation?: string;
  tickIntervalMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  limits?: Partial<ReplicaLimits>;
  /** Called when the replica cannot go on (a broken invariant, a failed fsync). */
  onFatal: (error: Error) => void;
  /** Told when the set of members changes (the transport must know their addresses). */
  onMembersChanged?: (confState: ConfState, context: Uint8Array) => void;
}

export interface ReplicaLimits {
  /** Proposals awaiting application at once on this replica. */
  maxPendingProposals: number;
  /** Linearizable reads awaiting confirmation at once. */
  maxPendingReads: number;
  proposalTimeoutMs: number;
  readTimeoutMs: number;
  /** Take a snapshot (and compact the log) after this many applied entries. */
  snapshotEveryEntries: number;
  /** Entries kept behind a snapshot so a briefly lagging follower needs no snapshot. */
  keepEntriesAfterSnapshot: number;
}

export const DEFAULT_REPLICA_LIMITS: ReplicaLimits = {
  maxPendingProposals: 10_000,
  maxPendingReads: 10_000,
  proposalTimeoutMs: 5_000,
  readTimeoutMs: 5_000,
  snapshotEveryEntries: 10_000, // etcd's --snapshot-count is 100,000; our snapshots are cheaper
  keepEntriesAfterSnapshot: 5_000, // etcd's SnapshotCatchUpEntries
};

export const RAFT_ACTOR = "raft";
/** How often a leader looks for idle client sessions (at most; a TTL/4 when that is shorter). */
export const SESSION_EXPIRY_CHECK_MS = 30_000;
/**
 * After the leader's connection closes: the first follower campaigns after a short delay (its
 * peers must notice the close too, or they still refuse votes for the leader's lease), the next
 * after a stagger, so that two candidates do not split the vote.
 */
export const FAST_ELECTION_DELAY_MS = 30;
export const FAST_ELECTION_STAGGER_MS = 150;
export const RAFT_MESSAGE_KIND = "raft.msg";
export const SNAPSHOT_CHUNK_KIND = "raft.snap";

/*
 * Members a subclass may reach are protected, not private: the deterministic simulator plants
 * bugs by overriding them (raft/sim/replica/mutations.ts) to show that it catches each one.
 */
export class Replica {
  readonly nodeId: NodeId;
  readonly limits: ReplicaLimits;
  protected readonly options: ReplicaOptions;
  protected readonly proposals: ProposalWaiters;
  protected readonly reads: ReadQueue;
  private readonly assembler = new SnapshotAssembler();
  private node: RaftNode | null = null;
  protected role: AnyActorRef | null = null;
  private confState: ConfState;
  private soft: SoftState = { lead: null, role: "follower" };
  /**
   * Pending proposals that carry a client session, by request id: when the leader changes they
   * are proposed again, because a proposal forwarded to a leader that died is lost without a
   * word and would otherwise wait out its timeout. Proposing twice is safe for these: the session
   * (clientId, seq) makes the state machine apply the command once, whichever copy commits; a
   * session registration applied twice only leaves an unused session, which expires.
   */
  protected readonly resendable = new Map<string, Uint8Array>();
  private lastSnapshotIndex: number;
  /**
   * This replica's extra entries before each snapshot, up to half the interval, drawn from its
   * seed: replicas apply the same entries at about the same time, and snapshots taken by all of
   * them at once would stall the whole cluster together instead of one member at a time.
   */
  private readonly snapshotStaggerEntries: number;
  private stopped = false;
  private readonly sessionExpiry: SessionExpiry;
  private nextSessionCheckMs = 0;
  private expiringSessions = false;
  /** Snapshots received from a leader and installed (a follower that fell behind compaction). */
  snapshotsInstalled = 0;
  /** The term as last persisted; cheap to read for tagging inspection records. */
  term: number;

  constructor(options: ReplicaOptions) {
    this.options = options;
    this.nodeId = options.system.nodeId;
    this.limits = { ...DEFAULT_REPLICA_LIMITS, ...options.limits };
    const clock = options.system.clock;
    this.proposals = this.newProposalWaiters(clock);
    this.reads = this.newReadQueue(clock);
    this.confState = options.log.initialState().confState;
    this.lastSnapshotIndex = options.log.snapshot().metadata.index;
    this.snapshotStaggerEntries =
      (options.randomSeed >>> 0) % Math.max(1, Math.floor(this.limits.snapshotEveryEntries / 2));
    this.term = options.log.initialState().hardState.term;
    this.sessionExpiry = new SessionExpiry(
      options.store.sessionTtlMs,
      options.store.limits.maxSessionsPerExpire,
    );
  }

  protected newProposalWaiters(clock: Clock): ProposalWaiters {
    const { nodeId, limits, options } = this;
    return new ProposalWaiters(nodeId, clock, limits.maxPendingProposals, options.incarnation);
  }

  protected newReadQueue(clock: Clock): ReadQueue {
    return new ReadQueue(this.nodeId, clock, this.limits.maxPendingReads);
  }

  /**
   * Brings the store level with the log (see `recoverStore`), then starts the core and spawns
   * the role statechart as `raft`.
   */
  async start(): Promise<void> {
    const { options } = this;
    const applied = await this.recoverStore();
    if (this.stopped) return;
    this.node = new RaftNode({
      id: this.nodeId,
      storage: options.log,
      applied,
      randomSeed: options.randomSeed,
      ...(options.electionTick ? { electionTick: options.electionTick } : {}),
      ...(options.heartbeatTick ? { heartbeatTick: options.heartbeatTick } : {}),
    });
    this.role = options.system.spawn(RAFT_ACTOR, raftRole, {
      supervise: false, // a broken invariant must stop the replica, not restart it half-way
      input: {
        node: this.node,
        onReady: (rd: Ready) => this.onReady(rd),
        onDropped: (err: ProposalDroppedError) => this.onDropped(err),
        onPeerMessage: (msg: ActorMessage) => this.onPeerMessage(msg),
        tickIntervalMs: options.tickIntervalMs,
      },
    });
    this.role.subscribe({ error: (error: unknown) => this.fatal(error) });
  }

  /**
   * After a restart the log and the store (two databases) may disagree, and the core must start
   * from a state both can honour. Returns the index the core starts from: the log's snapshot.
   *
   * - The store may be behind the snapshot: a crash between installing a leader's snapshot in the
   *   log and restoring the store, or between a local snapshot and the store's flush (it applies
   *   without fsync). Then the store is restored from the log's copy.
   * - The store may be ahead of the commit index the log kept: a commit-only hard state is not
   *   fsync'd (etcd's MustSync), so a power loss can take it while the store's batch survives.
   *   The core must not start past its commit index (it refuses to), nor past the snapshot,
   *   whose ConfState is the membership it restarts with: starting at the snapshot, the core
   *   hands out the committed entries after it again, the store skips those it has applied
   *   ("alreadyApplied") and every configuration change is applied to the core once more.
   */
  protected async recoverStore(): Promise<number> {
    const { store, log } = this.options;
    const snapshot = log.snapshot().metadata;
    if (store.restoring || store.appliedIndex < snapshot.index) {
      this.options.logger.info(
        { storeApplied: store.appliedIndex, snapshot: snapshot.index },
        "the store is behind the log's snapshot: restoring it from the snapshot",
      );
      await this.installLogSnapshot();
    }
    return snapshot.index;
  }

  /** Replaces the store's state with the snapshot the log holds. */
  protected async installLogSnapshot(): Promise<void> {
    const snap = this.options.log.snapshot();
    if (snap.data.byteLength > 0) {
      await this.options.store.restoreSnapshot(splitStoreSnapshot(snap.data));
    }
  }

  /** The membership as of the last applied configuration change. */
  members(): ConfState {
    return this.confState;
  }

  /** The role and leader as the core last reported them. */
  softState(): SoftState {
    return this.soft;
  }

  status() {
    const node = this.node;
    const st = node?.status();
    return {
      id: this.nodeId,
      role: this.soft.role,
      leader: this.soft.lead,
      term: st?.term ?? 0,
      commit: st?.commit ?? 0,
      applied: this.options.store.appliedIndex,
      revision: this.options.store.currentRevision,
      lastIndex: this.options.log.lastIndex(),
      snapshotIndex: this.lastSnapshotIndex,
      snapshotsInstalled: this.snapshotsInstalled,
      firstIndex: this.options.log.firstIndex(),
      voters: this.confState.voters,
      learners: this.confState.learners,
      progress: st?.progress ?? {},
      pendingProposals: this.proposals.size,
      pendingReads: this.reads.size,
    };
  }

  /** Proposes a command; resolves with its outcome once applied here. */
  propose(
    envelope: CommandEnvelope,
    timeoutMs = this.limits.proposalTimeoutMs,
  ): Promise<ApplyOutcome> {
    if (this.stopped || this.role === null) return Promise.reject(new Error("replica stopped"));
    const { requestId, outcome } = this.proposals.register(timeoutMs);
    const data = encodeProposal({ requestId, envelope });
    // a duplicate registration only leaves an unused session behind, which expires
    if (envelope.session !== undefined || envelope.command.op === "registerSession") {
      this.resendable.set(requestId, data);
      const forget = () => this.resendable.delete(requestId);
      outcome.then(forget, forget);
    }
    this.role.send({ type: "PROPOSE", data, requestId });
    return outcome;
  }

  /** Resolves once a read issued now may be served from the local store (ReadIndex). */
  linearizableBarrier(timeoutMs = this.limits.readTimeoutMs): Promise<void> {
    if (this.stopped || this.role === null) return Promise.reject(new Error("replica stopped"));
    const { ctx, ready } = this.reads.enqueue(timeoutMs);
    this.role.send({ type: "READ_INDEX", ctx });
    return ready;
  }

  proposeConfChange(cc: ConfChange): void {
    this.role?.send({ type: "PROPOSE_CONF_CHANGE", cc });
  }

  /**
   * The connection to `peer` just closed. If it was our leader, its process is most likely gone
   * (a killed process's sockets close at once): forget it, so votes are not refused for its
   * lease, and start a (pre-)vote now instead of waiting out the election timeout. One follower
   * goes first, by rank among the remaining voters; the next one tries a little later only if
   * no leader emerged, so two candidates do not split the vote.
   */
  peerConnectionLost(peer: NodeId): void {
    if (this.stopped || this.soft.lead !== peer || this.soft.role !== "follower") return;
    this.options.logger.info({ leader: peer }, "connection to the leader lost: electing now");
    this.role?.send({ type: "FORGET_LEADER" });
    // Proposals and reads forwarded to that leader are lost with it: fail them now so their
    // clients retry (a proposal that did commit is answered from the session table on retry).
    const lost = new Error(`connection to leader ${peer} lost; retry`);
    this.proposals.failAll(lost);
    this.reads.failAll(lost);
    const others = this.confState.voters.filter((id) => id !== peer).sort();
    const rank = Math.max(0, others.indexOf(this.nodeId));
    const campaign = () => {
      const lead = this.soft.lead;
      if (!this.stopped && this.soft.role !== "leader" && (lead === null || lead === peer)) {
        this.role?.send({ type: "CAMPAIGN" });
      }
    };
    // The first waits a moment so the other followers see the close too (and leave the lease).
    const delayMs = FAST_ELECTION_DELAY_MS + rank * FAST_ELECTION_STAGGER_MS;
    this.options.system.clock.setTimeout(campaign, delayMs);
  }

  transferLeadership(to: NodeId): void {
    this.role?.send({ type: "TRANSFER_LEADER", to });
  }

  /** Stops the role actor and fails everything pending. The log and store stay open. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.role?.stop();
    const error = new Error(`replica ${this.nodeId} stopped`);
    this.proposals.failAll(error);
    this.reads.failAll(error);
  }

  // ---- the Ready loop ---------------------------------------------------------------------

  private onReady(rd: Ready): void {
    this.handleReady(rd).then(
      () => {
        if (!this.stopped) this.role?.send({ type: "ADVANCE" });
      },
      (error: unknown) => this.fatal(error),
    );
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState);
    if (rd.hardState) this.term = rd.hardState.term;
    this.send(rd.messages);
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
      await this.options.log.persist({
        snapshot: rd.snapshot ?? undefined,
        entries: rd.entries,
        hardState: rd.hardState ?? undefined,
        sync: rd.mustSync,
      });
    }
    this.send(rd.messagesAfterPersist);
    if (rd.snapshot) await this.installSnapshot(rd.snapshot.data, rd.snapshot.metadata.confState);
    await this.apply(rd.committedEntries);
    for (const rs of rd.readStates) {
      this.reads.confirmed(rs.requestCtx, rs.index, this.options.store.appliedIndex);
    }
    this.reads.release(this.options.store.appliedIndex);
    await this.maybeSnapshot();
    this.maybeExpireSessions();
  }

  /**
   * As leader, now and then: proposes the expiry of sessions idle for their TTL by this
   * leader's monotonic clock (session-expiry.ts). A leader's Ready loop runs at least every
   * heartbeat, so no timer of its own is needed.
   */
  private maybeExpireSessions(): void {
    if (this.soft.role !== "leader" || this.expiringSessions) return;
    const now = this.options.system.clock.nowMs();
    if (now < this.nextSessionCheckMs) return;
    const { store } = this.options;
    this.nextSessionCheckMs = now + Math.min(SESSION_EXPIRY_CHECK_MS, store.sessionTtlMs / 4);
    const due = this.sessionExpiry.due(store.sessionLastSeqs(), now);
    if (due.length === 0) return;
    this.expiringSessions = true;
    this.propose({ command: { op: "expireSessions", sessions: due } })
      .then(
        (outcome) => {
          const expired =
            outcome.status === "applied" && outcome.response.kind === "expireSessions"
              ? outcome.response.expired.length
              : 0;
          this.options.logger.info({ expired, idle: due.length }, "expired idle client sessions");
        },
        (error: Error) =>
          this.options.logger.warn({ error: error.message }, "cannot expire idle sessions"),
      )
      .finally(() => {
        this.expiringSessions = false;
      });
  }

  protected onSoftState(soft: SoftState): void {
    const was = this.soft;
    this.soft = soft;
    if (was.lead !== soft.lead || was.role !== soft.role) {
      this.options.logger.info({ role: soft.role, leader: soft.lead }, "raft role");
      // a leader measures idleness from its own first look (session-expiry.ts)
      this.sessionExpiry.reset();
      this.nextSessionCheckMs = 0;
    }
    if (soft.lead !== null && soft.lead !== was.lead) this.proposeAgain();
  }

  /**
   * A new leader: what may have gone to the old one is proposed again (see `resendable`), and
   * reads still waiting for their ReadIndex ask the new leader (an index from it is at least the
   * commit index any earlier leader confirmed, so the read stays linearizable).
   */
  protected proposeAgain(): void {
    for (const ctx of this.reads.unconfirmed()) this.role?.send({ type: "READ_INDEX", ctx });
    if (this.resendable.size === 0) return;
    this.options.logger.info(
      { proposals: this.resendable.size },
      "proposing again to the new leader",
    );
    for (const [requestId, data] of this.resendable)
      this.role?.send({ type: "PROPOSE", data, requestId });
  }

  /** Applies committed entries in order: conf changes to the core, commands to the store. */
  protected async apply(entries: Entry[]): Promise<void> {
    let batch: { entry: CommittedEntry; requestId: string | null }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const current = batch;
      batch = [];
      const outcomes = await this.options.store.applyBatch(current.map((b) => b.entry));
      outcomes.forEach((outcome, i) => {
        const requestId = current[i]?.requestId;
        if (requestId) this.proposals.settle(requestId, outcome);
      });
    };
    for (const entry of entries) {
      if (entry.type === "confChange") {
        await flush();
        await this.options.store.applyBatch([{ index: entry.index }]);
        this.applyConfChange(decodeConfChange(entry.data));
        continue;
      }
      if (entry.data.byteLength === 0) {
        batch.push({ entry: { index: entry.index }, requestId: null }); // a new leader's no-op
        continue;
      }
      const proposal = decodeProposal(entry.data);
      batch.push({
        entry: { index: entry.index, envelope: proposal.envelope },
        requestId: proposal.requestId,
      });
    }
    await flush();
  }

  protected applyConfChange(cc: ConfChange): void {
    this.confState = this.node!.applyConfChange(cc);
    this.options.logger.info({ confState: this.confState }, "membership changed");
    this.options.onMembersChanged?.(this.confState, cc.context);
  }

  /** A snapshot's data is the store's own snapshot stream, concatenated. */
  private async installSnapshot(data: Uint8Array, confState: ConfState): Promise<void> {
    if (data.byteLength > 0) await this.options.store.restoreSnapshot(splitStoreSnapshot(data));
    this.confState = confState;
    this.lastSnapshotIndex = this.options.store.appliedIndex;
    this.snapshotsInstalled++;
    this.options.logger.info(
      { index: this.lastSnapshotIndex },
      "installed a snapshot from the leader",
    );
    this.options.onMembersChanged?.(confState, new Uint8Array());
  }

  /** Every `snapshotEveryEntries` applied entries: snapshot the store, compact the log. */
  private async maybeSnapshot(): Promise<void> {
    const applied = this.options.store.appliedIndex;
    const interval = this.limits.snapshotEveryEntries + this.snapshotStaggerEntries;
    if (applied - this.lastSnapshotIndex < interval) return;
    const snap = await this.options.store.snapshot();
    const parts: Uint8Array[] = [];
    for await (const chunk of snap.chunks) parts.push(chunk);
    await this.options.log.createSnapshot(
      snap.appliedIndex,
      this.confState,
      joinStoreSnapshot(parts),
    );
    this.lastSnapshotIndex = snap.appliedIndex;
    const compactTo = snap.appliedIndex - this.limits.keepEntriesAfterSnapshot;
    if (compactTo > this.options.log.firstIndex()) {
      // The store may apply without fsync (the log is the durable record): make it durable
      // before the log forgets the entries that would rebuild it.
      await this.options.store.flush();
      await this.options.log.compact(compactTo);
    }
  }

  // ---- messages ------------------------------------------------------------------------------

  private send(messages: Message[]): void {
    const system = this.options.system;
    const from = system.address(RAFT_ACTOR);
    for (const m of messages) {
      const to = `${m.to}/${RAFT_ACTOR}`;
      if (m.type === "MsgSnap") {
        this.sendSnapshot(m, from, to);
        continue;
      }
      const sent = system.tell(from, to, RAFT_MESSAGE_KIND, m);
      if (!sent.ok) this.role?.send({ type: "REPORT_UNREACHABLE", id: m.to });
    }
  }

  private sendSnapshot(m: MsgSnap, from: string, to: string): void {
    const system = this.options.system;
    for (const chunk of splitSnapshot(m)) {
      const sent = system.tell(from, to, SNAPSHOT_CHUNK_KIND, chunk);
      if (!sent.ok) {
        this.role?.send({ type: "REPORT_SNAPSHOT", id: m.to, ok: false });
        return;
      }
    }
    // The chunks are on the wire, in order; the follower's ack moves its progress on.
    this.role?.send({ type: "REPORT_SNAPSHOT", id: m.to, ok: true });
  }

  /** A message for `raft` from a peer: a Raft message, or a chunk of a snapshot. */
  private onPeerMessage(msg: ActorMessage): Message | null {
    if (msg.type === RAFT_MESSAGE_KIND) return msg.body as Message;
    if (msg.type !== SNAPSHOT_CHUNK_KIND) return null;
    try {
      return this.assembler.add(msg.body as SnapshotChunk);
    } catch (error) {
      this.options.logger.warn({ error: (error as Error).message }, "snapshot transfer broken");
      return null;
    }
  }

  private onDropped(err: ProposalDroppedError & { requestId?: string }): void {
    if (err.requestId)
      this.proposals.fail(err.requestId, new Error(`proposal dropped: ${err.message}`));
  }

  private fatal(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.options.logger.fatal({ error: err.message, stack: err.stack }, "replica failed");
    this.stop();
    this.options.onFatal(err);
  }
}

/** The store's snapshot chunks travel inside one Raft snapshot as length-prefixed parts. */
export function joinStoreSnapshot(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const p of parts) {
    out.writeUInt32BE(p.length, offset);
    out.set(p, offset + 4);
    offset += 4 + p.length;
  }
  return out;
}

export function splitStoreSnapshot(data: Uint8Array): Uint8Array[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < buf.length; ) {
    if (offset + 4 > buf.length) throw new Error("replica: truncated store snapshot");
    const length = buf.readUInt32BE(offset);
    if (offset + 4 + length > buf.length) throw new Error("replica: truncated store snapshot");
    parts.push(buf.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return parts;
}

export { encodeConfChange };
