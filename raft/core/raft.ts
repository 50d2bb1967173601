/**
 * The Raft consensus core (etcd-io/raft's `raft` + `RawNode`): one node's protocol state,
 * driven by `tick()`, `step(message)` and the proposal methods, and drained through
 * `ready()` / `advance()`. Pure and deterministic: no I/O, no clock, no Math.random().
 *
 * Reading guide: `stepInternal` handles what every role handles the same way (term checks,
 * votes, MsgHup); everything else goes to exactly one of `stepLeader`, `stepCandidate`,
 * `stepFollower`. Section numbers refer to the Raft paper (Ongaro & Ousterhout 2014) and the
 * thesis (Ongaro 2014).
 */

import { SeededRandom } from "../../actors/system/random.ts";
import { CompactedError } from "../storage/storage.ts";
import { applyChange, isLeaveJoint, restore } from "./confchange.ts";
import { type RaftConfig, type RaftConfigInput, resolveConfig } from "./config.ts";
import { invariant, ProposalDroppedError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  encodeConfChange,
  type HardState,
  hardStateEqual,
  isEmptySnapshot,
  LOCAL_MESSAGE_TYPES,
  type Message,
  type MsgApp,
  type MsgAppResp,
  type MsgHeartbeat,
  type MsgProp,
  type MsgReadIndex,
  type MsgSnap,
  type NodeId,
  type Snapshot,
} from "./messages.ts";
import { Progress } from "./progress.ts";
import { jointVoteResult } from "./quorum.ts";
import { ReadOnly } from "./read-only.ts";
import type { ReadState, Ready, Role, SoftState } from "./ready.ts";
import type { Status } from "./status.ts";
import {
  confStateOf,
  isJoint,
  type ProgressMap,
  ProgressTracker,
  type TrackerConfig,
} from "./tracker.ts";

type CampaignType = "preElection" | "election" | "transfer";

/** What a handed-out Ready promised, settled by advance(). */
interface OutstandingReady {
  lastEntry: { index: number; term: number } | null;
  snapshotIndex: number;
  lastCommittedIndex: number;
  /** Responses a node sends itself (its own vote, the leader's own append ack): stepped on advance. */
  selfMessages: Message[];
}

export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly raftLog: RaftLog;
  private readonly trk: ProgressTracker;
  private readonly prng: SeededRandom;

  private term = 0;
  private vote: NodeId | null = null;
  private role: Role = "follower";
  private lead: NodeId | null = null;
  private isLearner = false;
  /** Set while a leadership transfer to this node is in progress (leader only). */
  private leadTransferee: NodeId | null = null;
  /** Index of the latest conf change proposed by this leader; one may be pending at a time. */
  private pendingConfIndex = 0;
  /** Bytes of entry payloads appended by this leader and not yet handed out as committed. */
  private uncommittedSizeBytes = 0;
  private readOnly: ReadOnly;
  /** Reads received before this leader committed an entry of its term (thesis §6.4). */
  private pendingReadIndexMessages: MsgReadIndex[] = [];
  private readStates: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  /** Messages that may go out at once. */
  private msgs: Message[] = [];
  /** Messages that promise durable state: sent only after the Ready that carries it is persisted. */
  private msgsAfterAppend: Message[] = [];

  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private outstanding: OutstandingReady | null = null;

  constructor(input: RaftConfigInput) {
    this.cfg = resolveConfig(input);
    this.id = this.cfg.id;
    this.prng = new SeededRandom(this.cfg.randomSeed);
    this.raftLog = new RaftLog(this.cfg.storage, this.cfg.maxCommittedSizePerReady);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs);
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);

    const { hardState, confState } = this.cfg.storage.initialState();
    const restored = restore(this.cfg.maxInflightMsgs, this.raftLog.lastIndex(), confState);
    this.switchToConfig(restored.config, restored.progress);
    if (hardState.term !== 0 || hardState.vote !== null || hardState.commit !== 0) {
      this.loadState(hardState);
    }
    if (this.cfg.applied > 0) this.raftLog.appliedTo(this.cfg.applied);
    this.becomeFollower(this.term, null);
    this.prevSoftState = this.softState();
    this.prevHardState = this.hardState();
  }

  // ------------------------------------------------------------------------------------------
  // Public API.

  /** Advances the logical clock by one tick: election timeout for followers, heartbeats for leaders. */
  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  /**
   * Steps a message received from the network. Local-only kinds (MsgHup, MsgBeat, ...) arriving
   * from the network, messages addressed elsewhere and responses from unknown peers are ignored.
   * A proposal forwarded by a peer that cannot be accepted is dropped silently (the peer's
   * client retries); a local one throws ProposalDroppedError.
   */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.from !== this.id && LOCAL_MESSAGE_TYPES.has(m.type)) return;
    if (
      (m.type === "MsgAppResp" ||
        m.type === "MsgVoteResp" ||
        m.type === "MsgPreVoteResp" ||
        m.type === "MsgHeartbeatResp") &&
      !this.trk.progress.has(m.from)
    ) {
      return;
    }
    try {
      this.stepInternal(m);
    } catch (e) {
      // Everything reaching step() came over the network — local proposals go through
      // propose() — so a refused proposal is dropped silently, even one that carries our own
      // id because a stale peer forwarded it back to us (found by the simulator, seed 483).
      if (e instanceof ProposalDroppedError) return;
      throw e;
    }
  }

  /** Proposes `data` for the log. Throws ProposalDroppedError when it cannot be accepted now. */
  propose(data: Uint8Array): void {
    this.stepInternal(this.propMessage([{ term: 0, index: 0, type: "normal", data }]));
  }

  /** Proposes a membership change. Throws ProposalDroppedError (e.g. one is already pending). */
  proposeConfChange(cc: ConfChange): void {
    this.stepInternal(
      this.propMessage([{ term: 0, index: 0, type: "confChange", data: encodeConfChange(cc) }]),
    );
  }

  /**
   * Requests a linearizable read. The answer arrives in a later Ready as a ReadState carrying
   * `ctx` (which should be unique per request). Throws ProposalDroppedError without a leader.
   */
  readIndex(ctx: Uint8Array): void {
    this.stepInternal({ type: "MsgReadIndex", from: this.id, to: this.id, term: 0, context: ctx });
  }

  /** Asks the leader to hand leadership to `to` (forwarded when this node is a follower). */
  transferLeader(to: NodeId): void {
    this.stepInternal({
      type: "MsgTransferLeader",
      from: this.id,
      to: this.id,
      term: 0,
      transferee: to,
    });
  }

  /**
   * A follower forgets its leader (etcd's MsgForgetLeader), e.g. when the host saw the leader's
   * connection die: votes are then no longer refused for the check-quorum lease, so a new
   * election can succeed at once instead of after a full election timeout. Safety does not rest
   * on the lease (reads here use ReadIndex, not lease reads), only liveness; under lease-based
   * reads it is ignored. If the leader is in fact alive, its next heartbeat restores it.
   */
  forgetLeader(): void {
    if (this.role !== "follower" || this.lead === null) return;
    if (this.cfg.readOnlyOption === "leaseBased") return;
    this.lead = null;
  }

  /** Starts an election now, as if the election timeout elapsed. */
  campaign(): void {
    this.stepInternal({ type: "MsgHup", from: this.id, to: this.id, term: 0 });
  }

  /** Whether ready() has something to hand out. False while a Ready awaits advance(). */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    if (!softStateEqual(this.softState(), this.prevSoftState)) return true;
    const hs = this.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) return true;
    if (this.raftLog.unstable.snapshot !== null) return true;
    if (this.raftLog.unstable.entries.length > 0) return true;
    if (this.msgs.length > 0 || this.msgsAfterAppend.length > 0) return true;
    if (this.readStates.length > 0) return true;
    return this.raftLog.hasNextCommittedEntries();
  }

  /** Hands out the next batch of work. Call advance() when it has been handled (see ready.ts). */
  ready(): Ready {
    invariant(this.outstanding === null, "ready() called again before advance()");
    const ss = this.softState();
    const hs = this.hardState();
    invariant(hs.term >= this.prevHardState.term, "term never decreases");
    invariant(hs.commit >= this.prevHardState.commit, "commit index never moves backwards");
    const unstable = this.raftLog.unstable;
    const entries = [...unstable.entries];
    const snapshot = unstable.snapshot;
    const committedEntries = this.raftLog.nextCommittedEntries();
    const softChanged = !softStateEqual(ss, this.prevSoftState);
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const selfMessages = this.msgsAfterAppend.filter((m) => m.to === this.id);
    const rd: Ready = {
      softState: softChanged ? ss : null,
      hardState: hardChanged ? hs : null,
      readStates: this.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: this.msgs,
      messagesAfterPersist: this.msgsAfterAppend.filter((m) => m.to !== this.id),
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hs.term !== this.prevHardState.term ||
        hs.vote !== this.prevHardState.vote,
    };
    const last = entries[entries.length - 1];
    this.outstanding = {
      lastEntry: last ? { index: last.index, term: last.term } : null,
      snapshotIndex: snapshot ? snapshot.metadata.index : 0,
      lastCommittedIndex: committedEntries[committedEntries.length - 1]?.index ?? 0,
      selfMessages,
    };
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    this.readStates = [];
    this.msgs = [];
    this.msgsAfterAppend = [];
    this.reduceUncommittedSize(committedEntries);
    return rd;
  }

  /** The last Ready was persisted, sent and applied: settle it. */
  advance(): void {
    const o = this.outstanding;
    invariant(o !== null, "advance() without a preceding ready()");
    this.outstanding = null;
    if (o.snapshotIndex > 0) {
      this.raftLog.stableSnapTo(o.snapshotIndex);
      if (o.snapshotIndex > this.raftLog.applied) this.appliedTo(o.snapshotIndex);
    }
    if (o.lastEntry) this.raftLog.stableTo(o.lastEntry.index, o.lastEntry.term);
    if (o.lastCommittedIndex > 0 && o.lastCommittedIndex > this.raftLog.applied) {
      this.appliedTo(o.lastCommittedIndex);
    }
    for (const m of o.selfMessages) this.stepInternal(m);
  }

  /**
   * Applies a committed membership change (the host calls this when it applies a confChange
   * entry) and returns the resulting configuration, to be recorded with the next snapshot.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const result = applyChange(
      {
        config: this.trk.config,
        progress: this.trk.progress,
        maxInflight: this.cfg.maxInflightMsgs,
        lastIndex: this.raftLog.lastIndex(),
      },
      cc,
    );
    return this.switchToConfig(result.config, result.progress);
  }

  status(): Status {
    const progress: Status["progress"] = {};
    if (this.role === "leader") {
      this.trk.visit((id, pr) => {
        progress[id] = pr.toStatus();
      });
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lead: this.lead,
      role: this.role,
      leadTransferee: this.leadTransferee,
      config: this.trk.confState(),
      progress,
    };
  }

  /** The current volatile state (what the role statechart follows). */
  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  /** The transport could not reach `id`: stop pipelining to it and probe again. */
  reportUnreachable(id: NodeId): void {
    this.stepInternal({ type: "MsgUnreachable", from: id, to: this.id, term: 0 });
  }

  /** Sending the snapshot from a MsgSnap to `id` finished; `ok` = it was delivered. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.stepInternal({ type: "MsgSnapStatus", from: id, to: this.id, term: 0, reject: !ok });
  }

  // ------------------------------------------------------------------------------------------
  // Role transitions.

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  /** Thesis §9.6: ask for pre-votes without touching term or vote. */
  private becomePreCandidate(): void {
    invariant(this.role !== "leader", "invalid transition [leader -> preCandidate]");
    this.trk.resetVotes();
    this.lead = null;
    this.role = "preCandidate";
  }

  /** Raft §5.2: increment the term and vote for self. */
  private becomeCandidate(): void {
    invariant(this.role !== "leader", "invalid transition [leader -> candidate]");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    invariant(this.role !== "follower", "invalid transition [follower -> leader]");
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    const self = this.trk.progress.get(this.id)!;
    // The leader trivially replicates to itself; it is always active.
    self.becomeReplicate();
    self.recentActive = true;
    // Conservatively treat the whole log as possibly holding a conf change: no new conf change
    // is accepted until everything up to here is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // Raft §8 / thesis §6.4: a new leader commits an empty entry of its own term, which also
    // commits everything before it (Figure 8) and lets it serve reads.
    const ok = this.appendEntries([{ term: 0, index: 0, type: "normal", data: new Uint8Array() }]);
    invariant(ok, "the empty leader entry must always be accepted");
  }

  private reset(term: number): void {
    invariant(term >= this.term, () => `term never decreases (${this.term} -> ${term})`);
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    const stableLast = Math.min(lastIndex, this.raftLog.stableLastIndex());
    for (const [id, pr] of this.trk.progress) {
      const fresh = new Progress({
        match: id === this.id ? stableLast : 0,
        next: lastIndex + 1,
        maxInflight: this.cfg.maxInflightMsgs,
        isLearner: pr.isLearner,
      });
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    // Raft §5.2: a timeout drawn from [electionTick, 2*electionTick) makes split votes rare.
    this.randomizedElectionTimeout = this.cfg.electionTick + this.prng.intn(this.cfg.electionTick);
  }

  // ------------------------------------------------------------------------------------------
  // Ticks.

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.stepInternal({ type: "MsgHup", from: this.id, to: this.id, term: 0 });
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        this.stepInternal({ type: "MsgCheckQuorum", from: this.id, to: this.id, term: 0 });
      }
      // Thesis §3.10: a transfer that did not finish within an election timeout is abandoned
      // so the leader can take proposals again.
      if (this.role === "leader" && this.leadTransferee !== null) this.abortLeaderTransfer();
    }
    if (this.role !== "leader") return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.stepInternal({ type: "MsgBeat", from: this.id, to: this.id, term: 0 });
    }
  }

  // ------------------------------------------------------------------------------------------
  // Stepping: what all roles share.

  private stepInternal(m: Message): void {
    if (m.term === 0) {
      // Local message or forwarded proposal/read.
    } else if (m.term > this.term) {
      if (m.type === "MsgVote" || m.type === "MsgPreVote") {
        // Check-quorum lease (thesis §4.2.3): a node that heard from a leader within the
        // minimum election timeout neither grants the vote nor adopts the term — unless the
        // leader itself asked for this election (leadership transfer).
        const inLease =
          this.cfg.checkQuorum &&
          this.lead !== null &&
          this.electionElapsed < this.cfg.electionTick;
        if (!m.transfer && inLease) return;
      }
      if (m.type === "MsgPreVote") {
        // Never change term in response to a pre-vote (thesis §9.6).
      } else if (m.type === "MsgPreVoteResp" && !m.reject) {
        // Pre-votes are requested with a future term; a grant carries that term and says
        // nothing about a newer leader. The term moves only once a quorum grants.
      } else {
        // Raft §5.1: a higher term makes us a follower of that term.
        const leaderMsg = m.type === "MsgApp" || m.type === "MsgHeartbeat" || m.type === "MsgSnap";
        this.becomeFollower(m.term, leaderMsg ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === "MsgHeartbeat" || m.type === "MsgApp")
      ) {
        // A leader cut off with a stale term would never learn of ours otherwise (with
        // check-quorum or pre-vote we do not bump terms on vote requests it might see).
        // Any message carrying our term makes it step down.
        this.send({
          type: "MsgAppResp",
          from: this.id,
          to: m.from,
          term: 0,
          index: 0,
          reject: false,
          rejectHint: 0,
          logTerm: 0,
        });
      } else if (m.type === "MsgPreVote") {
        // Tell a pre-candidate with a stale term it lost, so it does not wait forever.
        this.send({
          type: "MsgPreVoteResp",
          from: this.id,
          to: m.from,
          term: this.term,
          reject: true,
        });
      }
      // Raft §5.1: otherwise, stale-term messages are ignored.
      return;
    }

    switch (m.type) {
      case "MsgHup":
        this.hup(this.cfg.preVote ? "preElection" : "election");
        return;
      case "MsgVote":
      case "MsgPreVote": {
        const respType = m.type === "MsgVote" ? "MsgVoteResp" : "MsgPreVoteResp";
        // Raft §5.2: at most one vote per term, first come first served. We can grant when we
        // already voted for this candidate, when we voted for no one and know no leader, or for
        // a pre-vote for a future term (which binds nothing).
        const canVote =
          this.vote === m.from ||
          (this.vote === null && this.lead === null) ||
          (m.type === "MsgPreVote" && m.term > this.term);
        // Raft §5.4.1: only for a candidate whose log is at least as up to date as ours.
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // The response carries the candidate's term, so a pre-vote grant is counted in the
          // pre-candidate's future term.
          this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
          if (m.type === "MsgVote") {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
        }
        return;
      }
      default:
        switch (this.role) {
          case "leader":
            this.stepLeader(m);
            return;
          case "candidate":
          case "preCandidate":
            this.stepCandidate(m);
            return;
          case "follower":
            this.stepFollower(m);
            return;
        }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Leader.

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "MsgBeat":
        this.bcastHeartbeat();
        return;
      case "MsgCheckQuorum":
        // Check-quorum (thesis §6.2): without hearing from a quorum within an election timeout
        // the leader steps down, so clients find the real leader and lease reads stay safe.
        if (!this.trk.quorumActive()) {
          this.becomeFollower(this.term, null);
        }
        this.trk.visit((id, pr) => {
          if (id !== this.id) pr.recentActive = false;
        });
        return;
      case "MsgProp":
        this.leaderPropose(m);
        return;
      case "MsgReadIndex":
        this.leaderReadIndex(m);
        return;
      case "MsgTransferLeader":
        this.leaderTransfer(m.transferee);
        return;
      case "MsgAppResp":
        this.leaderHandleAppResp(m);
        return;
      case "MsgHeartbeatResp": {
        const pr = this.trk.progress.get(m.from);
        if (!pr) return;
        pr.recentActive = true;
        // The follower is alive: let a probe go out again. With a full pipeline this sends an
        // empty MsgApp whose answer (ack or reject) clears the window if the MsgApps were lost.
        pr.msgAppFlowPaused = false;
        if (pr.match < this.raftLog.lastIndex() || pr.state === "probe") this.sendAppend(m.from);
        if (this.readOnly.option !== "safe" || m.context === null || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks) return;
        const votes = new Map<NodeId, boolean>();
        for (const id of acks) votes.set(id, true);
        if (jointVoteResult(this.trk.jointVoters(), votes) !== "won") return;
        for (const rs of this.readOnly.advance(m.context))
          this.answerReadIndex(rs.request, rs.index);
        return;
      }
      case "MsgSnapStatus": {
        const pr = this.trk.progress.get(m.from);
        if (pr?.state !== "snapshot") return;
        if (m.reject) pr.pendingSnapshot = 0; // failed: probe from match again
        pr.becomeProbe();
        // Wait for the follower's MsgAppResp (success) or a heartbeat interval (failure) before
        // sending the next MsgApp.
        pr.msgAppFlowPaused = true;
        return;
      }
      case "MsgUnreachable": {
        const pr = this.trk.progress.get(m.from);
        // Optimistic sends were likely lost: fall back to probing.
        if (pr && pr.state === "replicate") pr.becomeProbe();
        return;
      }
      case "MsgVoteResp":
      case "MsgPreVoteResp":
      case "MsgHeartbeat":
      case "MsgApp":
      case "MsgSnap":
      case "MsgTimeoutNow":
      case "MsgReadIndexResp":
      case "MsgHup":
      case "MsgVote":
      case "MsgPreVote":
        // Stale responses, or impossible at equal term (two leaders in one term): ignore.
        return;
    }
  }

  private leaderPropose(m: MsgProp): void {
    invariant(m.entries.length > 0, "MsgProp without entries");
    const local = m.from === this.id;
    if (!this.trk.progress.has(this.id)) {
      // Removed from the configuration while still leading: do not take new work.
      throw new ProposalDroppedError(
        "notMember",
        `${this.id} is not a member of the configuration`,
      );
    }
    if (this.leadTransferee !== null) {
      throw new ProposalDroppedError(
        "transferInProgress",
        `transferring leadership to ${this.leadTransferee}`,
      );
    }
    const entries = m.entries.map((e) => ({ ...e }));
    let newPendingConfIndex = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.type !== "confChange") continue;
      const problem =
        newPendingConfIndex > 0
          ? "only one conf change per proposal"
          : this.confChangeProblem(decodeConfChange(e.data));
      if (problem === null) {
        newPendingConfIndex = this.raftLog.lastIndex() + i + 1;
      } else if (local) {
        throw new ProposalDroppedError("confChangeInProgress", problem);
      } else {
        // A forwarded change that cannot be applied now: keep the slot, drop the change (etcd).
        entries[i] = { term: 0, index: 0, type: "normal", data: new Uint8Array() };
      }
    }
    if (!this.appendEntries(entries)) {
      throw new ProposalDroppedError("uncommittedSizeExceeded", "too many uncommitted entry bytes");
    }
    if (newPendingConfIndex > 0) this.pendingConfIndex = newPendingConfIndex;
    this.bcastAppend();
  }

  /** Why a conf change cannot be proposed now, or null (one change at a time, joint rules). */
  private confChangeProblem(cc: ConfChange): string | null {
    const joint = isJoint(this.trk.config);
    const leave = isLeaveJoint(cc);
    if (this.pendingConfIndex > this.raftLog.applied) {
      return `possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`;
    }
    if (joint && !leave) return "must transition out of joint config first";
    if (!joint && leave) return "not in joint state; refusing empty conf change";
    return null;
  }

  private leaderReadIndex(m: MsgReadIndex): void {
    if (this.trk.isSingleton()) {
      // Alone, the leader is trivially still the leader.
      this.answerReadIndex(m, this.raftLog.committed);
      return;
    }
    // Thesis §6.4: until the leader committed an entry of its own term it does not know the
    // latest commit index; postpone reads until then.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.serveReadIndex(m);
  }

  private serveReadIndex(m: MsgReadIndex): void {
    if (this.readOnly.option === "safe") {
      if (!this.readOnly.addRequest(this.raftLog.committed, m)) return;
      this.readOnly.recvAck(this.id, m.context);
      this.bcastHeartbeatWithCtx(m.context);
    } else {
      // Lease based: check-quorum guarantees no other leader exists within the lease.
      this.answerReadIndex(m, this.raftLog.committed);
    }
  }

  private answerReadIndex(req: MsgReadIndex, index: number): void {
    if (req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.context });
      return;
    }
    this.send({
      type: "MsgReadIndexResp",
      from: this.id,
      to: req.from,
      term: 0,
      index,
      context: req.context,
    });
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.serveReadIndex(m);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  /** Thesis §3.10: bring the transferee up to date, then tell it to campaign at once. */
  private leaderTransfer(transferee: NodeId): void {
    const pr = this.trk.progress.get(transferee);
    if (!pr || pr.isLearner) return;
    if (this.leadTransferee !== null) {
      if (this.leadTransferee === transferee) return; // already in progress
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return; // already leader
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private leaderHandleAppResp(m: MsgAppResp): void {
    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking: the follower's hint (rejectHint, logTerm) names its last entry that
      // could match; skip every entry of ours whose term exceeds logTerm (etcd's scheme,
      // a refinement of Raft §5.3's "decrement nextIndex and retry").
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0)
        nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === "probe"))) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (pr.state === "snapshot" && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The follower caught up past our compaction point (through the snapshot or otherwise):
      // entries can flow again.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (m.from !== this.id && oldPaused) {
      // The follower was paused and is now unblocked: tell it about the commit index too.
      this.sendAppend(m.from);
    }
    if (m.from !== this.id) {
      // Flow control may now allow several messages (probe → replicate, or freed slots).
      while (this.maybeSendAppend(m.from, false)) {}
      if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
        this.sendTimeoutNow(m.from);
      }
    }
  }

  /** Raft §5.3/§5.4.2: advance commit to the quorum-acknowledged index if it is of our term. */
  private maybeCommit(): boolean {
    const before = this.raftLog.committed;
    const changed = this.raftLog.maybeCommit(this.trk.committed(), this.term);
    invariant(this.raftLog.committed >= before, "commit index never moves backwards");
    return changed;
  }

  private appendEntries(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const ents = es.map((e, i) => ({ ...e, term: this.term, index: li + 1 + i }));
    if (!this.increaseUncommittedSize(ents)) return false;
    const newLast = this.raftLog.append(ents);
    // The leader counts its own copy only once it is durable: this ack is stepped by advance().
    this.send({
      type: "MsgAppResp",
      from: this.id,
      to: this.id,
      term: 0,
      index: newLast,
      reject: false,
      rejectHint: 0,
      logTerm: 0,
    });
    return true;
  }

  private increaseUncommittedSize(ents: Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += e.data.byteLength;
    const limit = this.cfg.maxUncommittedEntriesSize;
    // An empty payload (the leader's own entry) is always accepted; so is the first one.
    if (
      limit > 0 &&
      this.uncommittedSizeBytes > 0 &&
      s > 0 &&
      this.uncommittedSizeBytes + s > limit
    ) {
      return false;
    }
    this.uncommittedSizeBytes += s;
    return true;
  }

  private reduceUncommittedSize(ents: Entry[]): void {
    if (this.role !== "leader") return;
    let s = 0;
    for (const e of ents) s += e.data.byteLength;
    this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - s);
  }

  private bcastAppend(): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | null): void {
    this.trk.visit((id, pr) => {
      if (id === this.id) return;
      // Never let a heartbeat commit beyond what the follower is known to hold.
      const hb: MsgHeartbeat = {
        type: "MsgHeartbeat",
        from: this.id,
        to: id,
        term: 0,
        commit: Math.min(pr.match, this.raftLog.committed),
        context: ctx,
      };
      this.send(hb);
    });
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends the entries `to` needs next (batched up to maxSizePerMsg), or a snapshot when they are
   * compacted. With sendIfEmpty=false, returns false instead of sending an empty MsgApp.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | undefined = [];
    // A full pipeline only gets empty MsgApps (see MsgHeartbeatResp).
    if (pr.state !== "replicate" || !pr.inflights.full()) {
      try {
        ents = this.raftLog.entries(pr.next, this.cfg.maxSizePerMsg);
      } catch (e) {
        if (!(e instanceof CompactedError)) throw e;
        ents = undefined;
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: "MsgApp",
      from: this.id,
      to,
      term: 0,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    });
    pr.updateOnEntriesSend(ents.length, pr.next);
    return true;
  }

  /** Raft §7: the follower needs entries we compacted; send the latest snapshot instead. */
  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // Only to a follower that answers: a snapshot is expensive.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof Error && e.name === "SnapshotTemporarilyUnavailableError") return false;
      throw e;
    }
    invariant(!isEmptySnapshot(snapshot), "need a non-empty snapshot to send");
    pr.becomeSnapshot(snapshot.metadata.index);
    const msg: MsgSnap = { type: "MsgSnap", from: this.id, to, term: 0, snapshot };
    this.send(msg);
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: "MsgTimeoutNow", from: this.id, to, term: 0 });
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = null;
  }

  // ------------------------------------------------------------------------------------------
  // Candidate and pre-candidate.

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === "preCandidate" ? "MsgPreVoteResp" : "MsgVoteResp";
    switch (m.type) {
      case "MsgProp":
        throw new ProposalDroppedError(
          "noLeader",
          `${this.id} is campaigning; no leader in term ${this.term}`,
        );
      case "MsgReadIndex":
        throw new ProposalDroppedError(
          "noLeader",
          `${this.id} is campaigning; no leader in term ${this.term}`,
        );
      case "MsgApp":
        // Raft §5.2: a leader of our term exists (a candidate only sees equal terms here).
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case "MsgHeartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case "MsgSnap":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case "MsgVoteResp":
      case "MsgPreVoteResp": {
        // Votes of the other kind are stale (from an earlier phase): ignore them.
        if (m.type !== myVoteResp) return;
        this.trk.recordVote(m.from, !m.reject);
        const { result } = this.trk.tallyVotes();
        if (result === "won") {
          if (this.role === "preCandidate") {
            this.startCampaign("election");
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === "lost") {
          // A rejection with our term (pre-vote) or a quorum rejected: back to follower.
          this.becomeFollower(this.term, null);
        }
        return;
      }
      case "MsgTimeoutNow":
        // Already campaigning.
        return;
      case "MsgTransferLeader":
      case "MsgHeartbeatResp":
      case "MsgAppResp":
      case "MsgReadIndexResp":
      case "MsgBeat":
      case "MsgCheckQuorum":
      case "MsgUnreachable":
      case "MsgSnapStatus":
      case "MsgHup":
      case "MsgVote":
      case "MsgPreVote":
        return;
    }
  }

  private hup(t: CampaignType): void {
    if (this.role === "leader") return;
    if (!this.promotable()) return;
    // A conf change that is committed but not applied may remove us or change the quorum:
    // wait until it is applied before campaigning.
    if (this.hasUnappliedConfChanges()) return;
    this.startCampaign(t);
  }

  private startCampaign(t: CampaignType): void {
    if (!this.promotable()) return;
    let term: number;
    let voteType: "MsgVote" | "MsgPreVote";
    if (t === "preElection") {
      this.becomePreCandidate();
      voteType = "MsgPreVote";
      // Pre-votes are asked for the term we would campaign in, without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = "MsgVote";
      term = this.term;
    }
    const respType = voteType === "MsgVote" ? "MsgVoteResp" : "MsgPreVoteResp";
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voterIds()) {
      if (id === this.id) {
        // Our own vote counts once our term and vote are durable (stepped on advance()).
        this.send({ type: respType, from: this.id, to: this.id, term, reject: false });
        continue;
      }
      this.send({
        type: voteType,
        from: this.id,
        to: id,
        term,
        index: lastIndex,
        logTerm: lastTerm,
        transfer: t === "transfer",
      });
    }
  }

  /** A voter of the current config, with no snapshot waiting to be applied. */
  private promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const hi = this.raftLog.committed + 1;
    if (lo >= hi) return false;
    const ents = this.raftLog.slice(lo, hi, Number.MAX_SAFE_INTEGER);
    return ents.some((e) => e.type === "confChange");
  }

  // ------------------------------------------------------------------------------------------
  // Follower.

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "MsgProp":
        if (this.lead === null) {
          throw new ProposalDroppedError(
            "noLeader",
            `${this.id} knows no leader in term ${this.term}`,
          );
        }
        if (this.cfg.disableProposalForwarding) {
          throw new ProposalDroppedError(
            "notLeader",
            `${this.id} is not the leader (leader: ${this.lead})`,
          );
        }
        this.send({ ...m, to: this.lead });
        return;
      case "MsgApp":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case "MsgHeartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case "MsgSnap":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case "MsgTransferLeader":
        if (this.lead === null) return;
        this.send({ ...m, to: this.lead });
        return;
      case "MsgTimeoutNow":
        // Thesis §3.10: our leader wants us to take over; no pre-vote (we are not rejoining
        // from a partition) and peers ignore their lease for this election.
        this.hup("transfer");
        return;
      case "MsgReadIndex":
        if (this.lead === null) {
          throw new ProposalDroppedError("noLeader", `${this.id} knows no leader for the read`);
        }
        this.send({ ...m, to: this.lead });
        return;
      case "MsgReadIndexResp":
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
      case "MsgAppResp":
      case "MsgVoteResp":
      case "MsgPreVoteResp":
      case "MsgHeartbeatResp":
      case "MsgBeat":
      case "MsgCheckQuorum":
      case "MsgUnreachable":
      case "MsgSnapStatus":
      case "MsgHup":
      case "MsgVote":
      case "MsgPreVote":
        return;
    }
  }

  /** Raft §5.3: the consistency check and log repair, answered after persisting. */
  private handleAppendEntries(m: MsgApp): void {
    if (m.index < this.raftLog.committed) {
      // Everything up to our commit index is already settled: tell the leader where we are.
      this.sendAppResp(m.from, this.raftLog.committed, false, 0, 0);
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.sendAppResp(m.from, lastNew, false, 0, 0);
      return;
    }
    // Reject, with a hint for fast backtracking: the last of our entries at or before
    // min(m.index, lastIndex) whose term is <= m.logTerm.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const hint = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.sendAppResp(m.from, m.index, true, hint.index, hint.term);
  }

  private sendAppResp(
    to: NodeId,
    index: number,
    reject: boolean,
    rejectHint: number,
    logTerm: number,
  ): void {
    this.send({
      type: "MsgAppResp",
      from: this.id,
      to,
      term: 0,
      index,
      reject,
      rejectHint,
      logTerm,
    });
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    this.raftLog.commitTo(m.commit);
    this.send({ type: "MsgHeartbeatResp", from: this.id, to: m.from, term: 0, context: m.context });
  }

  private handleSnapshot(m: MsgSnap): void {
    if (this.restoreSnapshot(m.snapshot)) {
      this.sendAppResp(m.from, this.raftLog.lastIndex(), false, 0, 0);
    } else {
      this.sendAppResp(m.from, this.raftLog.committed, false, 0, 0);
    }
  }

  /** Raft §7: install a snapshot, discarding a log that does not contain it. */
  private restoreSnapshot(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.role !== "follower") {
      // Only followers install snapshots; anything else here is a bug elsewhere. Become a
      // follower of a higher term so we do not act on a state we cannot trust.
      this.becomeFollower(this.term + 1, null);
      return false;
    }
    // Unlike etcd-io/raft we accept a snapshot whose ConfState does not list us yet: a node
    // added after the leader's latest snapshot needs exactly that snapshot, and the conf change
    // that adds it follows in the log. Refusing it would make the leader resend it forever.
    // Installing a committed prefix of the leader's log is safe whoever we are; without our
    // own progress in the restored config we simply cannot campaign until we are added.
    if (this.raftLog.matchTerm(index, term)) {
      // We already have the entry the snapshot ends at: just fast-forward the commit index.
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(s);
    const restored = restore(this.cfg.maxInflightMsgs, this.raftLog.lastIndex(), confState);
    this.trk.progress = new Map();
    this.switchToConfig(restored.config, restored.progress);
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Shared plumbing.

  private switchToConfig(config: TrackerConfig, progress: ProgressMap): ConfState {
    this.trk.config = config;
    this.trk.progress = progress;
    const cs = confStateOf(config);
    const pr = progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((pr === undefined || this.isLearner) && this.role === "leader") {
      // Removed or demoted while leading: stop leading, so the remaining voters elect a
      // leader among themselves (etcd's stepDownOnRemoval).
      if (this.cfg.stepDownOnRemoval) this.becomeFollower(this.term, null);
      return cs;
    }
    if (this.role !== "leader" || cs.voters.length === 0) return cs;
    // The quorum may have changed: commit what the new config agrees on, and bring newcomers up.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== null && !this.trk.isVoter(this.leadTransferee))
      this.abortLeaderTransfer();
    return cs;
  }

  private loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      () =>
        `hard state commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private appliedTo(index: number): void {
    this.raftLog.appliedTo(index);
    // Joint consensus with autoLeave: once the joint config is applied, the leader proposes
    // leaving it (Raft §6: C_old,new then C_new).
    if (this.trk.config.autoLeave && index >= this.pendingConfIndex && this.role === "leader") {
      const leave: ConfChange = { transition: "auto", changes: [], context: new Uint8Array() };
      try {
        this.proposeConfChange(leave);
      } catch (e) {
        // E.g. a transfer in progress: retried on the next apply.
        if (!(e instanceof ProposalDroppedError)) throw e;
      }
    }
  }

  private propMessage(entries: Entry[]): MsgProp {
    return { type: "MsgProp", from: this.id, to: this.id, term: 0, entries };
  }

  /**
   * Queues a message. Vote traffic carries the term it was built with; proposals and reads
   * forwarded to the leader carry none (they are local to the leader); everything else carries
   * our term. Acks and votes promise durable state: they wait for the Ready to be persisted.
   */
  private send(m: Message): void {
    let out: Message = m;
    if (
      m.type === "MsgVote" ||
      m.type === "MsgVoteResp" ||
      m.type === "MsgPreVote" ||
      m.type === "MsgPreVoteResp"
    ) {
      invariant(m.term !== 0, `term must be set when sending ${m.type}`);
    } else if (
      m.type === "MsgProp" ||
      m.type === "MsgReadIndex" ||
      m.type === "MsgTransferLeader"
    ) {
      out = { ...m, term: 0 };
    } else {
      out = { ...m, term: this.term };
    }
    if (out.type === "MsgAppResp" || out.type === "MsgVoteResp" || out.type === "MsgPreVoteResp") {
      this.msgsAfterAppend.push(out);
    } else {
      this.msgs.push(out);
    }
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}
