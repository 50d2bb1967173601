/**
 * The deterministic simulator: a whole Raft cluster in one process, driven from one seed.
 *
 * Simulated time advances one millisecond per step. Each step delivers the messages due, ticks
 * the nodes whose tick falls due, injects faults, lets clients act, and drains every node's
 * Ready batches exactly as a real host would (send, persist, send-after-persist, apply, advance).
 * The invariants of `invariants.ts` are checked as each node's Ready is handled. After `steps`
 * milliseconds every fault is healed and the cluster must converge within `livenessLimitMs`;
 * then the client history must be linearizable.
 *
 * Disk model: a node's MemoryStorage is what the process sees; `disk` is what survived the last
 * sync. A Ready's writes reach both only once the (possibly slow) sync completes, and a crash in
 * that window loses them. Meanwhile the node keeps stepping messages and ticking (the core allows
 * step/tick between ready() and advance()), but takes no new Ready: like a host whose network
 * loop runs while its storage goroutine fsyncs.
 */
import { ProposalDroppedError } from "../core/errors.ts";
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  emptyConfState,
  type Message,
  type NodeId,
} from "../core/messages.ts";
import type { Ready, Role } from "../core/ready.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { type ClientRequest, type ClientResponse, SimClient } from "./client.ts";
import { type DurableLog, InvariantChecker, SafetyViolation } from "./invariants.ts";
import { encodeCommand, type KvWrite } from "./kv-command.ts";
import { KvStateMachine } from "./kv-state-machine.ts";
import { checkKvHistory } from "./linearizability/checker.ts";
import type { KvOperation } from "./linearizability/kv-model.ts";
import { SimNetwork } from "./network.ts";
import { coreNodeFactory, type NodeFactory, type SimRaftNode } from "./node-factory.ts";
import { defaultSimOptions, type SimOptions } from "./options.ts";
import { SimRandom } from "./random.ts";
import { Trace } from "./trace.ts";

type Payload =
  | { kind: "raft"; msg: Message }
  | { kind: "request"; request: ClientRequest }
  | { kind: "response"; response: ClientResponse };

interface PendingRead {
  client: string;
  readId: number;
  key: string;
  /** Set once the ReadState arrived: serve when the state machine has applied this far. */
  index: number | null;
}

class SimNode {
  up = false;
  /** Removed from the configuration and shut down for good. */
  retired = false;
  raft: SimRaftNode | null = null;
  storage: MemoryStorage;
  readonly disk: MemoryStorage;
  sm: KvStateMachine;
  confState: ConfState;
  term = 0;
  role: Role = "follower";
  lead: NodeId | null = null;
  pausedUntilMs = -1;
  slowDiskUntilMs = -1;
  restartAtMs = -1;
  /** A Ready whose writes are being synced, finished at `busyUntilMs`. */
  syncing: Ready | null = null;
  busyUntilMs = -1;
  lastSnapshotIndex = 0;
  /** Clients waiting for a write or registration this node proposed, by proposal id. */
  readonly waiters = new Map<string, string>();
  readonly reads = new Map<string, PendingRead>();

  constructor(
    readonly id: NodeId,
    readonly tickOffset: number,
    bootstrap: ConfState,
    readonly makeStateMachine: () => KvStateMachine,
  ) {
    this.disk = new MemoryStorage(bootstrap);
    this.storage = new MemoryStorage(bootstrap);
    this.sm = makeStateMachine();
    this.confState = bootstrap;
  }

  /** Running: may step messages and tick, even while a disk sync is in progress. */
  isRunning(nowMs: number): boolean {
    return this.up && this.pausedUntilMs <= nowMs;
  }

  /** May take the next Ready: running, and the previous Ready's writes are durable. */
  canTakeReady(nowMs: number): boolean {
    return this.isRunning(nowMs) && this.syncing === null;
  }
}

export interface SimFailure {
  property: string;
  message: string;
  atMs: number;
  replay: string;
  trace: string[];
}

export interface SimResult {
  seed: number;
  nodes: number;
  steps: number;
  ok: boolean;
  failure: SimFailure | null;
  traceHash: string;
  stats: {
    events: number;
    committedIndex: number;
    writesAcknowledged: number;
    readsCompleted: number;
    historyOps: number;
    leaderTerms: number;
    crashes: number;
    partitions: number;
    membershipChanges: number;
    sessionsExpired: number;
    convergedAfterMs: number | null;
    linearizability: "ok" | "unknown";
  };
}

export function replayCommand(o: Pick<SimOptions, "seed" | "nodes" | "steps">): string {
  return `npm run sim -- --seed ${o.seed} --nodes ${o.nodes} --steps ${o.steps}`;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

type MembershipStep = { type: "addVoter" | "removeNode"; nodeId: NodeId };

export class Simulation {
  readonly options: SimOptions;
  private readonly trace: Trace;
  private readonly netRandom: SimRandom;
  private readonly faultRandom: SimRandom;
  private readonly clientRandom: SimRandom;
  private readonly nodeSeeds: SimRandom;
  private readonly network: SimNetwork<Payload>;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients: SimClient[] = [];
  private readonly invariants = new InvariantChecker();
  private readonly history: KvOperation[] = [];
  private readonly cutRefs = new Map<string, number>();
  private readonly scheduled: { atMs: number; action: () => void; what: string }[] = [];
  private membershipPlan: MembershipStep[] = [];
  private membershipDone = 0;
  /** The configuration applied at the highest index by any node. */
  private latestConf: { index: number; conf: ConfState };
  private readonly bootstrapConf: ConfState;
  /** Proposals made on behalf of clients, for unique proposal ids. */
  private proposals = 0;
  /** Some disk changed since the last electable-voter check. */
  private durableLogsChanged = false;
  private now = 0;
  private subTick = 0;
  private faultsOn = true;
  private workloadOn = true;
  private readonly stats: SimResult["stats"] = {
    events: 0,
    committedIndex: 0,
    writesAcknowledged: 0,
    readsCompleted: 0,
    historyOps: 0,
    leaderTerms: 0,
    crashes: 0,
    partitions: 0,
    membershipChanges: 0,
    sessionsExpired: 0,
    convergedAfterMs: null,
    linearizability: "ok",
  };

  constructor(
    options: Partial<SimOptions> = {},
    private readonly factory: NodeFactory = coreNodeFactory,
  ) {
    const master = new SimRandom(options.seed ?? defaultSimOptions().seed);
    this.options = defaultSimOptions(options);
    if (this.options.varyBySeed) {
      this.options = { ...this.options, ...varySettings(master.fork(), options) };
    }
    const o = this.options;
    this.trace = new Trace(o.traceLimit, o.verbose ? (line) => console.log(line) : null);
    this.netRandom = master.fork();
    this.faultRandom = master.fork();
    this.clientRandom = master.fork();
    this.nodeSeeds = master.fork();
    this.network = new SimNetwork(this.netRandom, {
      lossRate: o.faults.lossRate,
      duplicateRate: o.faults.duplicateRate,
      minDelayMs: o.minDelayMs,
      maxDelayMs: o.maxDelayMs,
    });
    const voters = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
    const bootstrap: ConfState = { ...emptyConfState(), voters };
    this.latestConf = { index: 0, conf: bootstrap };
    this.bootstrapConf = bootstrap;
    for (const id of voters) this.addNode(id, bootstrap);
    for (let i = 0; i < o.clients; i++) {
      this.clients.push(new SimClient(`c${i + 1}`, this.clientRandom.pick(voters)));
    }
    if (o.membershipChanges) this.membershipPlan = this.planMembership(voters);
  }

  /** Runs the whole scenario; never throws for a failure of the system under test. */
  run(): SimResult {
    const o = this.options;
    let failure: SimFailure | null = null;
    try {
      this.record(
        `start seed=${o.seed} nodes=${o.nodes} steps=${o.steps} clients=${o.clients} ` +
          `maxSizePerMsg=${o.maxSizePerMsgBytes} maxInflight=${o.maxInflightMsgs} plan=[${this.describePlan()}]`,
      );
      for (const node of this.nodes.values()) this.startNode(node);
      for (; this.now < o.steps; this.now++) this.step();
      this.heal();
      const healedAt = this.now;
      const deadline = this.now + o.livenessLimitMs;
      for (; this.now < deadline; this.now++) {
        this.step();
        if (this.now % o.tickMs === 0 && this.converged()) {
          this.stats.convergedAfterMs = this.now - healedAt;
          break;
        }
      }
      if (this.stats.convergedAfterMs === null) {
        throw new SafetyViolation(
          "liveness",
          `the cluster did not converge within ${o.livenessLimitMs} ms of healing: ${this.describeCluster()}`,
        );
      }
      this.record(
        `converged ${this.stats.convergedAfterMs} ms after healing: ${this.describeCluster()}`,
      );
      this.checkFinalState();
    } catch (err) {
      failure = this.describeFailure(err);
    }
    this.stats.events = this.trace.events;
    this.stats.committedIndex = this.invariants.highestCommitted;
    this.stats.historyOps = this.history.length;
    this.stats.leaderTerms = this.invariants.leaderTerms;
    return {
      seed: o.seed,
      nodes: o.nodes,
      steps: o.steps,
      ok: failure === null,
      failure,
      traceHash: this.trace.hash,
      stats: this.stats,
    };
  }

  // -------------------------------------------------------------------------------------------
  // The step loop.

  private step(): void {
    this.subTick = 0;
    this.runScheduled();
    for (const envelope of this.network.takeDue(this.now)) this.deliver(envelope);
    for (const node of this.nodes.values()) {
      if (node.isRunning(this.now) && node.syncing !== null && node.busyUntilMs <= this.now) {
        const rd = node.syncing;
        node.syncing = null;
        this.finishReady(node, rd);
      }
      if (node.isRunning(this.now) && this.now % this.options.tickMs === node.tickOffset) {
        node.raft!.tick();
      }
    }
    if (this.faultsOn) this.injectFaults();
    if (
      this.options.membershipChanges &&
      this.faultRandom.chance(this.options.faults.membershipPerStep)
    ) {
      this.driveMembership();
    }
    for (const client of this.clients) this.driveClient(client);
    for (const node of this.nodes.values()) this.drainReady(node);
    if (this.durableLogsChanged) {
      this.durableLogsChanged = false;
      this.checkElectableVoters();
    }
  }

  private runScheduled(): void {
    if (this.scheduled.length === 0) return;
    const due = this.scheduled.filter((s) => s.atMs <= this.now);
    if (due.length === 0) return;
    for (let i = this.scheduled.length - 1; i >= 0; i--) {
      if (this.scheduled[i]!.atMs <= this.now) this.scheduled.splice(i, 1);
    }
    for (const s of due) s.action();
  }

  private schedule(afterMs: number, what: string, action: () => void): void {
    this.scheduled.push({ atMs: this.now + afterMs, action, what });
  }

  private eventTime(): number {
    // Distinct, ordered timestamps within one millisecond for the history.
    return this.now + ++this.subTick / 10_000;
  }

  private record(text: string): void {
    this.trace.record(this.now, text);
  }

  // -------------------------------------------------------------------------------------------
  // Nodes.

  private addNode(id: NodeId, bootstrap: ConfState): SimNode {
    const o = this.options;
    const node = new SimNode(
      id,
      this.nodeSeeds.int(o.tickMs),
      bootstrap,
      () =>
        new KvStateMachine(o.sessionLimits, (cmd, index) => {
          throw new SafetyViolation(
            "write applied twice",
            `${id} executed ${cmd} a second time, at index ${index}`,
          );
        }),
    );
    this.nodes.set(id, node);
    return node;
  }

  /** (Re)starts a node from what its disk synced. */
  private startNode(node: SimNode): void {
    const disk = node.disk;
    const snap = disk.snapshot();
    const storage = new MemoryStorage(snap.metadata.confState);
    if (snap.metadata.index > 0) storage.applySnapshot(snap);
    if (disk.lastIndex() >= disk.firstIndex()) {
      storage.append(
        disk.entries(disk.firstIndex(), disk.lastIndex() + 1, Number.POSITIVE_INFINITY),
      );
    }
    storage.setHardState(disk.hardStateNow());
    node.storage = storage;
    node.sm = node.makeStateMachine();
    node.sm.restore(snap.data);
    node.confState = snap.metadata.confState;
    node.lastSnapshotIndex = snap.metadata.index;
    node.term = disk.hardStateNow().term;
    node.role = "follower";
    node.lead = null;
    node.syncing = null;
    node.waiters.clear();
    node.reads.clear();
    this.invariants.forgetNode(node.id);
    node.raft = this.factory({
      id: node.id,
      storage,
      applied: node.sm.applied,
      randomSeed: this.nodeSeeds.nextUint32(),
      electionTick: this.options.electionTick,
      heartbeatTick: this.options.heartbeatTick,
      maxSizePerMsg: this.options.maxSizePerMsgBytes,
      maxInflightMsgs: this.options.maxInflightMsgs,
    });
    node.up = true;
    this.record(
      `${node.id} start: term ${node.term}, log (${storage.firstIndex()}..${storage.lastIndex()}], applied ${node.sm.applied}`,
    );
  }

  private crashNode(node: SimNode, why: string): void {
    const lost = node.syncing !== null ? " (losing an unsynced write)" : "";
    node.up = false;
    node.raft = null;
    node.syncing = null;
    node.role = "follower";
    node.waiters.clear();
    node.reads.clear();
    this.record(`${node.id} ${why}${lost}`);
  }

  private drainReady(node: SimNode): void {
    while (node.canTakeReady(this.now) && node.raft!.hasReady()) {
      const rd = node.raft!.ready();
      if (rd.softState !== null) {
        if (rd.softState.role !== node.role || rd.softState.lead !== node.lead) {
          this.record(`${node.id} is ${rd.softState.role} (lead ${rd.softState.lead ?? "-"})`);
          if (rd.softState.role === "leader") this.maybeCrashNewLeader(node);
        }
        node.role = rd.softState.role;
        node.lead = rd.softState.lead;
      }
      for (const m of rd.messages) this.sendRaft(node, m);
      const writes = rd.snapshot !== null || rd.entries.length > 0 || rd.hardState !== null;
      const syncMs = writes ? this.diskSyncMs(node) : 0;
      if (syncMs > 0) {
        node.syncing = rd;
        node.busyUntilMs = this.now + syncMs;
        return;
      }
      this.finishReady(node, rd);
    }
  }

  private diskSyncMs(node: SimNode): number {
    const o = this.options;
    if (node.slowDiskUntilMs > this.now) return this.faultRandom.between(...o.slowDiskSyncMs);
    if (this.faultsOn && this.faultRandom.chance(o.faults.diskHiccupRate)) {
      return this.faultRandom.between(...o.hiccupSyncMs);
    }
    return 0;
  }

  /** The rest of a Ready once its writes are durable: persist, ack, apply, advance. */
  private finishReady(node: SimNode, rd: Ready): void {
    const raft = node.raft!;
    if (rd.snapshot !== null) {
      node.storage.applySnapshot(rd.snapshot);
      node.disk.applySnapshot(rd.snapshot);
      node.sm.restore(rd.snapshot.data);
      node.confState = rd.snapshot.metadata.confState;
      node.lastSnapshotIndex = rd.snapshot.metadata.index;
      this.record(`${node.id} installed snapshot at ${rd.snapshot.metadata.index}`);
    }
    if (rd.entries.length > 0) {
      node.storage.append(rd.entries);
      node.disk.append(rd.entries);
    }
    if (rd.hardState !== null) {
      node.storage.setHardState(rd.hardState);
      node.disk.setHardState(rd.hardState);
      if (rd.hardState.term !== node.term) this.record(`${node.id} term ${rd.hardState.term}`);
      node.term = rd.hardState.term;
    }
    if (rd.entries.length > 0 || rd.snapshot !== null || rd.hardState !== null) {
      this.durableLogsChanged = true;
    }
    for (const m of rd.messagesAfterPersist) this.sendRaft(node, m);
    if (node.role === "leader") {
      this.invariants.observeLeader(node.id, node.term, node.storage);
    }
    if (rd.hardState !== null) {
      this.invariants.observeCommit(node.id, node.term, rd.hardState.commit, node.storage);
    }
    // After a membership change, snapshot at once, so that a node it added is sent a snapshot
    // that lists it (etcd-io/raft refuses one that does not; this core accepts it since e4dba32).
    let snapshotNow = false;
    for (const e of rd.committedEntries) {
      if (e.index <= node.sm.applied) continue; // already covered by an installed snapshot
      this.invariants.observeApply(node.id, node.term, e);
      if (e.type === "confChange") {
        const cc = decodeConfChange(e.data);
        node.confState = raft.applyConfChange(cc);
        node.sm.skip(e.index);
        this.noteConf(node, e.index, cc);
        snapshotNow = true;
        continue;
      }
      this.applyWrite(node, e);
    }
    for (const rs of rd.readStates) {
      const ctx = textDecoder.decode(rs.requestCtx);
      const read = node.reads.get(ctx);
      if (read !== undefined && read.index === null) read.index = rs.index;
    }
    this.serveReads(node);
    raft.advance();
    this.maybeCompact(node, snapshotNow);
  }

  private applyWrite(
    node: SimNode,
    e: { index: number; term: number; type: "normal" | "confChange"; data: Uint8Array },
  ): void {
    const out = node.sm.apply(e);
    if (out.kind === "registered") {
      if (node.waiters.delete(out.proposal)) {
        this.respond(node, out.client, { type: "registered", session: out.session });
      }
    } else if (out.kind === "write") {
      if (!node.waiters.delete(out.proposal)) return;
      const o = out.outcome;
      if (o.status === "applied" || o.status === "duplicate") {
        this.respond(node, out.client, {
          type: "written",
          session: out.session,
          seq: out.seq,
          result: o.result,
        });
      } else if (o.status === "sessionExpired") {
        this.respond(node, out.client, {
          type: "sessionExpired",
          session: out.session,
          seq: out.seq,
        });
      }
    }
  }

  private serveReads(node: SimNode): void {
    for (const [ctx, read] of node.reads) {
      if (read.index === null || read.index > node.sm.applied) continue;
      node.reads.delete(ctx);
      this.respond(node, read.client, {
        type: "read",
        readId: read.readId,
        value: node.sm.get(read.key),
      });
    }
  }

  private maybeCompact(node: SimNode, force: boolean): void {
    const o = this.options;
    const applied = node.sm.applied;
    if (applied <= node.lastSnapshotIndex) return;
    if (!force && applied - node.lastSnapshotIndex < o.snapshotEveryEntries) return;
    if (applied > node.storage.lastIndex() || applied > node.disk.lastIndex()) return;
    const data = node.sm.snapshot();
    node.storage.createSnapshot(applied, node.confState, data);
    node.disk.createSnapshot(applied, node.confState, data);
    node.lastSnapshotIndex = applied;
    const compactIndex = applied - o.compactionTrailingEntries;
    if (compactIndex >= node.storage.firstIndex() && compactIndex >= node.disk.firstIndex()) {
      node.storage.compact(compactIndex);
      node.disk.compact(compactIndex);
    }
    this.record(`${node.id} snapshot at ${applied}, log compacted to ${node.storage.firstIndex()}`);
  }

  // -------------------------------------------------------------------------------------------
  // The network.

  private sendRaft(from: SimNode, m: Message): void {
    if (m.to === from.id) {
      throw new SafetyViolation("simulator", `${from.id} sent ${m.type} to itself`);
    }
    const dropped = this.network.send(this.now, {
      from: from.id,
      to: m.to,
      payload: { kind: "raft", msg: structuredClone(m) },
    });
    if (dropped !== null && m.type === "MsgSnap") from.raft?.reportSnapshot(m.to, false);
  }

  private respond(node: SimNode, client: string, response: ClientResponse): void {
    this.network.send(this.now, {
      from: node.id,
      to: client,
      payload: { kind: "response", response },
    });
  }

  private deliver(envelope: { from: string; to: string; payload: Payload }): void {
    const { payload } = envelope;
    if (payload.kind === "response") {
      if (this.network.isCut(envelope.from, envelope.to)) return;
      const client = this.clients.find((c) => c.name === envelope.to)!;
      this.onClientResponse(client, envelope.from, payload.response);
      return;
    }
    const node = this.nodes.get(envelope.to);
    if (node === undefined || !node.up || this.network.isCut(envelope.from, envelope.to)) {
      if (payload.kind === "raft" && payload.msg.type === "MsgSnap") {
        const sender = this.nodes.get(envelope.from);
        if (sender?.up) sender.raft!.reportSnapshot(envelope.to, false);
      }
      return;
    }
    if (!node.isRunning(this.now)) {
      this.network.defer(this.now + 1, envelope);
      return;
    }
    if (payload.kind === "raft") {
      const m = payload.msg;
      if (this.options.verbose) this.record(`${m.from}→${m.to} ${describeMessage(m)}`);
      try {
        node.raft!.step(m);
      } catch (err) {
        // The core refuses a proposal a follower forwarded (e.g. during a leadership transfer)
        // by throwing from step(), like etcd's ErrProposalDropped: the proposer's client retries.
        if (!(err instanceof ProposalDroppedError)) throw err;
        this.record(`${node.id} dropped forwarded ${m.type} from ${m.from}: ${err.reason}`);
      }
      if (m.type === "MsgSnap") {
        const sender = this.nodes.get(envelope.from);
        if (sender?.up) sender.raft!.reportSnapshot(envelope.to, true);
      }
      return;
    }
    this.onClientRequest(node, payload.request);
  }

  // -------------------------------------------------------------------------------------------
  // Clients.

  private onClientRequest(node: SimNode, request: ClientRequest): void {
    const raft = node.raft!;
    try {
      if (request.type === "read") {
        const ctx = `${request.client}:${request.readId}`;
        raft.readIndex(textEncoder.encode(ctx));
        node.reads.set(ctx, {
          client: request.client,
          readId: request.readId,
          key: request.key,
          index: null,
        });
        return;
      }
      if (request.type === "register") {
        const proposal = `p${++this.proposals}`;
        raft.propose(
          encodeCommand({ kind: "register", proposal, client: request.client, timeMs: this.now }),
        );
        node.waiters.set(proposal, request.client);
        return;
      }
      const proposal = `p${++this.proposals}`;
      raft.propose(
        encodeCommand({
          kind: "write",
          proposal,
          client: request.client,
          session: request.session,
          seq: request.seq,
          timeMs: this.now,
          write: request.write,
        }),
      );
      node.waiters.set(proposal, request.client);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.network.send(this.now, {
        from: node.id,
        to: request.client,
        payload: {
          kind: "response",
          response: { type: "rejected", request, leaderHint: node.lead, reason: err.reason },
        },
      });
    }
  }

  private sendRequest(client: SimClient, request: ClientRequest): void {
    this.network.send(this.now, {
      from: client.name,
      to: client.target,
      payload: { kind: "request", request },
    });
  }

  private retarget(client: SimClient, hint: string | null): void {
    const candidates = [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    client.target =
      hint !== null && this.nodes.has(hint) && !this.nodes.get(hint)!.retired
        ? hint
        : this.clientRandom.pick(candidates);
  }

  private driveClient(client: SimClient): void {
    const o = this.options;
    const a = client.activity;
    if (a.state === "idle") {
      if (!this.workloadOn || this.now < a.nextOpAtMs) return;
      if (client.session === null) {
        client.activity = {
          state: "registering",
          deadlineMs: this.now + o.clientTimeoutMs,
          retryAtHint: false,
        };
        this.record(`${client.name} registers at ${client.target}`);
        this.sendRequest(client, { type: "register", client: client.name });
        return;
      }
      const key = `k${this.clientRandom.int(o.keys)}`;
      if (this.clientRandom.chance(o.readFraction)) {
        const readId = ++client.readId;
        const op: KvOperation = {
          clientId: client.name,
          op: "get",
          input: { key },
          callMs: this.eventTime(),
        };
        this.history.push(op);
        client.activity = {
          state: "reading",
          deadlineMs: this.now + o.clientTimeoutMs,
          readId,
          op,
        };
        this.record(`${client.name} get(${key}) at ${client.target}`);
        this.sendRequest(client, { type: "read", client: client.name, readId, key });
        return;
      }
      const seq = ++client.seq;
      const value = `${client.name}.${seq}`;
      const r = this.clientRandom.float();
      let write: KvWrite;
      let op: KvOperation;
      const callMs = this.eventTime();
      if (r < 0.5) {
        write = { op: "put", key, value };
        op = { clientId: client.name, op: "put", input: { key, value }, callMs };
      } else if (r < 0.65) {
        write = { op: "delete", key };
        op = { clientId: client.name, op: "delete", input: { key }, callMs };
      } else {
        const known = [...this.history]
          .reverse()
          .find((h) => h.input.key === key && (h.op === "put" || h.op === "cas"));
        const expected =
          known === undefined || this.clientRandom.chance(0.3)
            ? undefined
            : known.op === "put" || known.op === "cas"
              ? known.input.value
              : undefined;
        write = { op: "cas", key, expected, value };
        op = { clientId: client.name, op: "cas", input: { key, expected, value }, callMs };
      }
      this.history.push(op);
      client.activity = {
        state: "writing",
        deadlineMs: this.now + o.clientTimeoutMs,
        retryAtHint: false,
        seq,
        write,
        op,
      };
      this.record(`${client.name} ${describeWrite(write)} seq ${seq} at ${client.target}`);
      this.sendWrite(client);
      return;
    }
    if (this.now < a.deadlineMs) return;
    // Timed out: writes and registrations are retried elsewhere; a read is abandoned.
    if (a.state === "reading") {
      this.retarget(client, null);
      this.record(`${client.name} read ${a.readId} timed out`);
      this.goIdle(client);
      return;
    }
    if (a.retryAtHint) {
      a.retryAtHint = false;
      this.record(`${client.name} retries at ${client.target}`);
    } else {
      this.retarget(client, null);
      this.record(`${client.name} timed out, retries at ${client.target}`);
    }
    a.deadlineMs = this.now + o.clientTimeoutMs;
    if (a.state === "registering")
      this.sendRequest(client, { type: "register", client: client.name });
    else this.sendWrite(client);
  }

  private sendWrite(client: SimClient): void {
    const a = client.activity;
    if (a.state !== "writing" || client.session === null) return;
    this.sendRequest(client, {
      type: "write",
      client: client.name,
      session: client.session,
      seq: a.seq,
      write: a.write,
    });
  }

  private goIdle(client: SimClient): void {
    const think = this.clientRandom.int(2 * this.options.clientThinkMs + 1);
    client.activity = { state: "idle", nextOpAtMs: this.now + think };
  }

  private isCurrentWrite(client: SimClient, session: number, seq: number): boolean {
    const a = client.activity;
    return a.state === "writing" && client.session === session && a.seq === seq;
  }

  private onClientResponse(client: SimClient, from: string, response: ClientResponse): void {
    const a = client.activity;
    switch (response.type) {
      case "registered":
        if (a.state !== "registering") return;
        client.session = response.session;
        client.seq = 0;
        this.record(`${client.name} has session ${response.session}`);
        this.goIdle(client);
        return;
      case "written":
        if (a.state !== "writing" || !this.isCurrentWrite(client, response.session, response.seq)) {
          return;
        }
        a.op.returnMs = this.eventTime();
        a.op.output = (a.op.op === "cas" ? response.result : null) as never;
        client.acknowledged.push({ session: response.session, seq: a.seq });
        this.stats.writesAcknowledged++;
        this.record(
          `${client.name} seq ${a.seq} acknowledged by ${from}: ${String(response.result)}`,
        );
        this.goIdle(client);
        return;
      case "sessionExpired":
        if (a.state !== "writing" || !this.isCurrentWrite(client, response.session, response.seq)) {
          return;
        }
        // The write's fate is unknown: it stays pending in the history, forever.
        this.stats.sessionsExpired++;
        this.record(`${client.name} session expired during seq ${a.seq}`);
        client.session = null;
        this.goIdle(client);
        return;
      case "read":
        if (a.state !== "reading" || a.readId !== response.readId) return;
        a.op.returnMs = this.eventTime();
        a.op.output = response.value as never;
        this.stats.readsCompleted++;
        this.record(
          `${client.name} read ${a.readId} = ${response.value ?? "<absent>"} from ${from}`,
        );
        this.goIdle(client);
        return;
      case "rejected": {
        const r = response.request;
        const current =
          (r.type === "register" && a.state === "registering") ||
          (r.type === "write" &&
            a.state === "writing" &&
            this.isCurrentWrite(client, r.session, r.seq)) ||
          (r.type === "read" && a.state === "reading" && a.readId === r.readId);
        if (!current) return;
        this.retarget(client, response.leaderHint === from ? null : response.leaderHint);
        if (a.state === "reading") {
          // Nothing happened: drop the read from the history and try again later.
          this.history.splice(this.history.indexOf(a.op), 1);
          this.goIdle(client);
          return;
        }
        // Retry soon at the hinted leader (or elsewhere), keeping the same seq.
        this.record(`${client.name} rejected by ${from} (${response.reason})`);
        a.retryAtHint = true;
        a.deadlineMs = Math.min(a.deadlineMs, this.now + 2 * this.options.tickMs);
        return;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Faults.

  private liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  private downCount(): number {
    let n = 0;
    for (const node of this.nodes.values()) {
      if (node.retired) continue;
      if (!node.up || node.pausedUntilMs > this.now) n++;
    }
    return n;
  }

  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.up && node.role === "leader" && (best === null || node.term > best.term))
        best = node;
    }
    return best;
  }

  private injectFaults(): void {
    const o = this.options;
    const f = o.faults;
    const r = this.faultRandom;
    const nodes = [...this.nodes.values()].filter((n) => !n.retired);
    if (r.chance(f.crashPerStep) && this.downCount() < o.maxNodesDown) {
      const live = this.liveNodes();
      if (live.length > 0) {
        const victim = r.chance(0.4) ? (this.leader() ?? r.pick(live)) : r.pick(live);
        this.stats.crashes++;
        this.crashNode(victim, "crashes");
        this.schedule(r.between(...o.crashDowntimeMs), `restart ${victim.id}`, () => {
          if (!victim.retired && !victim.up) this.startNode(victim);
        });
      }
    }
    if (r.chance(f.partitionPerStep)) this.startPartition(nodes);
    if (r.chance(f.pausePerStep) && this.downCount() < o.maxNodesDown) {
      const live = this.liveNodes();
      if (live.length > 0) {
        const victim = r.pick(live);
        victim.pausedUntilMs = this.now + r.between(...o.pauseMs);
        this.record(`${victim.id} paused until ${victim.pausedUntilMs}`);
      }
    }
    if (r.chance(f.slowDiskPerStep) && nodes.length > 0) {
      const victim = r.pick(nodes);
      victim.slowDiskUntilMs = this.now + r.between(...o.slowDiskMs);
      this.record(`${victim.id} disk slow until ${victim.slowDiskUntilMs}`);
    }
    if (r.chance(f.transferLeaderPerStep)) {
      const leader = this.leader();
      const voters = this.latestConf.conf.voters.filter((v) => leader !== null && v !== leader.id);
      if (leader !== null && voters.length > 0 && leader.isRunning(this.now)) {
        const to = r.pick(voters);
        this.record(`${leader.id} asked to transfer leadership to ${to}`);
        try {
          leader.raft!.transferLeader(to);
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
        }
      }
    }
  }

  /**
   * A leader that fails right after winning: either it is cut off at once, before its first
   * MsgApps leave (its new-term entry then exists only on its own disk), or it crashes within a
   * few ms (what it already sent still arrives). Both are steps of the paper's Figure 8.
   */
  private maybeCrashNewLeader(node: SimNode): void {
    const o = this.options;
    const r = this.faultRandom;
    if (!this.faultsOn || !r.chance(o.faults.newLeaderCrashRate)) return;
    if (r.chance(0.5)) {
      const others = [...this.nodes.values()].filter((n) => n !== node && !n.retired);
      const cuts: [string, string][] = [];
      for (const other of others) cuts.push([node.id, other.id], [other.id, node.id]);
      for (const [a, b] of cuts) this.addCut(a, b);
      const duration = r.between(...o.partitionMs);
      this.stats.partitions++;
      this.record(`partition: new leader ${node.id} isolated for ${duration} ms`);
      this.schedule(duration, `heal isolation of ${node.id}`, () => {
        for (const [a, b] of cuts) this.removeCut(a, b);
        this.record(`partition healed: new leader ${node.id} isolated`);
      });
      return;
    }
    if (this.downCount() >= o.maxNodesDown) return;
    const incarnation = node.raft;
    this.schedule(r.between(0, 4), `crash new leader ${node.id}`, () => {
      if (!node.up || node.raft !== incarnation || !this.faultsOn) return;
      this.stats.crashes++;
      this.crashNode(node, "crashes just after winning an election");
      this.schedule(r.between(...o.crashDowntimeMs), `restart ${node.id}`, () => {
        if (!node.retired && !node.up) this.startNode(node);
      });
    });
  }

  private startPartition(nodes: SimNode[]): void {
    const o = this.options;
    const r = this.faultRandom;
    if (nodes.length < 2) return;
    const ids = nodes.map((n) => n.id);
    const cuts: [string, string][] = [];
    const kind = r.int(4);
    let what: string;
    if (kind === 0) {
      const leader = this.leader();
      const isolated = leader?.id ?? r.pick(ids);
      for (const other of ids)
        if (other !== isolated) cuts.push([isolated, other], [other, isolated]);
      what = `isolate ${isolated}`;
    } else if (kind === 1) {
      const side = ids.filter(() => r.chance(0.5));
      const rest = ids.filter((id) => !side.includes(id));
      for (const a of side) for (const b of rest) cuts.push([a, b], [b, a]);
      what = `split {${side.join(",")}} | {${rest.join(",")}}`;
    } else if (kind === 2) {
      // Asymmetric: one node hears nobody but is still heard (or the reverse).
      const victim = r.pick(ids);
      const deaf = r.chance(0.5);
      for (const other of ids)
        if (other !== victim) cuts.push(deaf ? [other, victim] : [victim, other]);
      what = deaf ? `${victim} hears nobody` : `nobody hears ${victim}`;
    } else {
      // A slow, lossy network for a while.
      const saved = { ...this.network.conditions };
      this.network.conditions = {
        ...saved,
        maxDelayMs: o.maxSlowDelayMs,
        lossRate: Math.min(0.3, saved.lossRate * 5),
      };
      const duration = r.between(...o.partitionMs);
      this.record(`network slow and lossy for ${duration} ms`);
      this.schedule(duration, "network normal", () => {
        if (this.faultsOn) this.network.conditions = saved;
      });
      return;
    }
    this.stats.partitions++;
    for (const [a, b] of cuts) this.addCut(a, b);
    const duration = r.between(...o.partitionMs);
    this.record(`partition: ${what} for ${duration} ms`);
    this.schedule(duration, `heal ${what}`, () => {
      for (const [a, b] of cuts) this.removeCut(a, b);
      this.record(`partition healed: ${what}`);
    });
  }

  private addCut(a: string, b: string): void {
    const key = `${a}>${b}`;
    this.cutRefs.set(key, (this.cutRefs.get(key) ?? 0) + 1);
    this.network.cut(a, b);
  }

  private removeCut(a: string, b: string): void {
    const key = `${a}>${b}`;
    const n = (this.cutRefs.get(key) ?? 0) - 1;
    if (n > 0) {
      this.cutRefs.set(key, n);
      return;
    }
    this.cutRefs.delete(key);
    this.network.healAll();
    for (const k of this.cutRefs.keys()) {
      const [x, y] = k.split(">") as [string, string];
      this.network.cut(x, y);
    }
  }

  private heal(): void {
    const o = this.options;
    this.faultsOn = false;
    this.workloadOn = false;
    this.scheduled.length = 0;
    this.cutRefs.clear();
    this.network.healAll();
    this.network.conditions = {
      lossRate: 0,
      duplicateRate: 0,
      minDelayMs: o.minDelayMs,
      maxDelayMs: o.maxDelayMs,
    };
    for (const node of this.nodes.values()) {
      node.pausedUntilMs = -1;
      node.slowDiskUntilMs = -1;
      // Every node not shut down for good restarts: one whose addition commits only after
      // healing must be up to catch up.
      if (!node.up && !node.retired) this.startNode(node);
    }
    this.record(`healed all faults: ${this.describeCluster()}`);
  }

  // -------------------------------------------------------------------------------------------
  // Membership: 3 → 5 → 3 (or 5 → 3 → 5), one voter at a time through the core's conf changes.

  private planMembership(voters: NodeId[]): MembershipStep[] {
    const r = this.faultRandom;
    const fresh = (k: number) => `n${voters.length + 1 + k}`;
    if (voters.length <= 3) {
      const added = [fresh(0), fresh(1)];
      const all = [...voters, ...added];
      const removed: NodeId[] = [];
      while (removed.length < 2) {
        const id = r.pick(all);
        if (!removed.includes(id)) removed.push(id);
      }
      return [
        ...added.map((nodeId) => ({ type: "addVoter" as const, nodeId })),
        ...removed.map((nodeId) => ({ type: "removeNode" as const, nodeId })),
      ];
    }
    const removed: NodeId[] = [];
    while (removed.length < 2) {
      const id = r.pick(voters);
      if (!removed.includes(id)) removed.push(id);
    }
    return [
      ...removed.map((nodeId) => ({ type: "removeNode" as const, nodeId })),
      { type: "addVoter", nodeId: fresh(0) },
      { type: "addVoter", nodeId: fresh(1) },
    ];
  }

  private describePlan(): string {
    return this.membershipPlan
      .map((s) => `${s.type === "addVoter" ? "+" : "-"}${s.nodeId}`)
      .join(" ");
  }

  private isMember(id: NodeId): boolean {
    const c = this.latestConf.conf;
    return c.voters.includes(id) || c.learners.includes(id) || c.votersOutgoing.includes(id);
  }

  private stepDone(s: MembershipStep): boolean {
    const c = this.latestConf.conf;
    const inConf = c.voters.includes(s.nodeId) || c.learners.includes(s.nodeId);
    return s.type === "addVoter"
      ? c.voters.includes(s.nodeId)
      : !inConf && c.votersOutgoing.length === 0;
  }

  private driveMembership(): void {
    while (this.membershipDone < this.membershipPlan.length) {
      const s = this.membershipPlan[this.membershipDone]!;
      if (!this.stepDone(s)) break;
      this.membershipDone++;
      this.stats.membershipChanges++;
      if (s.type === "removeNode") {
        const node = this.nodes.get(s.nodeId)!;
        if (node.up) this.crashNode(node, "shut down after removal");
        node.retired = true;
      }
    }
    if (!this.workloadOn || this.membershipDone >= this.membershipPlan.length) return;
    const s = this.membershipPlan[this.membershipDone]!;
    const leader = this.leader();
    if (leader === null || !leader.isRunning(this.now)) return;
    if (s.type === "addVoter" && !this.nodes.has(s.nodeId)) {
      // A joining node starts from the cluster's bootstrap configuration (what `--initial-cluster`
      // gives an etcd member): the log it receives holds only the changes made since. Started
      // with an empty one, it would apply "add n4" onto nothing and think itself a quorum alone.
      const node = this.addNode(s.nodeId, this.bootstrapConf);
      this.startNode(node);
    }
    const cc: ConfChange = {
      transition: "auto",
      changes: [{ type: s.type, nodeId: s.nodeId }],
      context: new Uint8Array(),
    };
    try {
      leader.raft!.proposeConfChange(cc);
      this.record(`${leader.id} proposes ${s.type} ${s.nodeId}`);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  private noteConf(node: SimNode, index: number, cc: ConfChange): void {
    if (index <= this.latestConf.index) return;
    this.latestConf = { index, conf: node.confState };
    const what = cc.changes.map((c) => `${c.type} ${c.nodeId}`).join(", ") || "leave joint";
    this.record(`config at ${index} (${what}): voters ${node.confState.voters.join(",")}`);
  }

  // -------------------------------------------------------------------------------------------
  // End of run.

  private members(): SimNode[] {
    return [...this.nodes.values()].filter((n) => !n.retired && this.isMember(n.id));
  }

  /**
   * Runs the "could be elected ⇒ holds every committed entry" check over the voters' disks,
   * only while the membership is settled (every node applied the latest configuration), since
   * a node deciding with another configuration counts other majorities.
   */
  private checkElectableVoters(): void {
    const conf = this.latestConf.conf;
    if (conf.votersOutgoing.length > 0) return;
    for (const node of this.nodes.values()) {
      if (node.retired) continue;
      if (!sameMembers(node.confState.voters, conf.voters)) return;
    }
    const logs: DurableLog[] = [];
    for (const id of conf.voters) {
      const node = this.nodes.get(id);
      if (node === undefined) return;
      const disk = node.disk;
      const lastIndex = disk.lastIndex();
      logs.push({
        id,
        lastIndex,
        lastTerm: disk.term(lastIndex),
        snapshotIndex: disk.snapshot().metadata.index,
        entry: (i) =>
          i >= disk.firstIndex() && i <= lastIndex
            ? disk.entries(i, i + 1, Number.POSITIVE_INFINITY)[0]
            : undefined,
      });
    }
    this.invariants.checkElectableVoters(logs);
  }

  private converged(): boolean {
    const leader = this.leader();
    if (leader === null || !this.isMember(leader.id)) return false;
    const target = this.invariants.highestCommitted;
    for (const node of this.members()) {
      if (!node.up || node.sm.applied < target || node.sm.applied !== leader.sm.applied)
        return false;
    }
    return this.clients.every((c) => !c.outstanding);
  }

  private checkFinalState(): void {
    const members = this.members();
    const reference = members[0]!;
    for (const node of members) {
      const a = JSON.stringify([...reference.sm.data].sort());
      const b = JSON.stringify([...node.sm.data].sort());
      if (a !== b) {
        throw new SafetyViolation(
          "state machine safety",
          `after convergence ${reference.id} holds ${a} but ${node.id} holds ${b}`,
        );
      }
      for (const client of this.clients) {
        for (const { session, seq } of client.acknowledged) {
          if (!node.sm.hasExecuted(client.name, session, seq)) {
            throw new SafetyViolation(
              "acknowledged write lost",
              `${client.name} session ${session} seq ${seq} was acknowledged but ${node.id} never applied it`,
            );
          }
        }
      }
    }
    const result = checkKvHistory(this.history, { maxSteps: this.options.checkerMaxSteps });
    if (result.ok === false) {
      throw new SafetyViolation(
        "linearizability",
        `${result.explanation}\nlongest linearization of ${result.key}:\n${result.partialLinearization
          .map((op) => `  ${describeHistoryOp(op)}`)
          .join("\n")}`,
      );
    }
    if (result.ok === "unknown") {
      this.stats.linearizability = "unknown";
      this.record(`linearizability: unknown (${result.reason})`);
    }
  }

  private describeCluster(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (n.retired) return `${n.id}:retired`;
        if (!n.up) return `${n.id}:down`;
        const member = this.isMember(n.id) ? "" : "(not member)";
        return `${n.id}:${n.role[0]}${n.term}/a${n.sm.applied}${member}`;
      })
      .join(" ");
  }

  private describeFailure(err: unknown): SimFailure {
    const property = err instanceof SafetyViolation ? err.property : "crash";
    const message =
      err instanceof Error
        ? err instanceof SafetyViolation
          ? err.message
          : (err.stack ?? err.message)
        : String(err);
    this.record(`FAILURE ${message.split("\n")[0]}`);
    return {
      property,
      message,
      atMs: this.now,
      replay: replayCommand(this.options),
      trace: this.trace.tail(),
    };
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The seed's choice of cluster shape, for settings the caller did not fix explicitly. */
function varySettings(r: SimRandom, fixed: Partial<SimOptions>): Partial<SimOptions> {
  const clients = fixed.clients ?? r.between(2, 7);
  const defaults = defaultSimOptions();
  const varied: Partial<SimOptions> = {
    clients,
    // Tight flow control (one small MsgApp in flight) is over-represented: entries then reach
    // followers one at a time, and old-term entries can be acknowledged before the new leader's
    // own — the setting where a wrong commit rule (Figure 8) shows.
    maxSizePerMsgBytes: r.pick([1024 * 1024, 1024, 200, 200]),
    maxInflightMsgs: r.pick([256, 8, 1, 1]),
    // Some seeds have new leaders crash right after winning much more often.
    faults: {
      ...(fixed.faults ?? defaults.faults),
      newLeaderCrashRate: r.pick([0.05, 0.15, 0.4]),
    },
    // A third of the seeds get a session table too small for their clients: sessions are
    // evicted while in use, and clients see "session expired" and register again.
    sessionLimits: r.chance(1 / 3)
      ? { ...defaults.sessionLimits, maxSessions: Math.max(1, clients - 1) }
      : defaults.sessionLimits,
  };
  for (const key of Object.keys(fixed) as (keyof SimOptions)[]) delete varied[key];
  return varied;
}

function describeWrite(w: KvWrite): string {
  switch (w.op) {
    case "put":
      return `put(${w.key}, ${w.value})`;
    case "delete":
      return `delete(${w.key})`;
    case "cas":
      return `cas(${w.key}, ${w.expected ?? "<absent>"}, ${w.value})`;
  }
}

function describeHistoryOp(op: KvOperation): string {
  const out = op.returnMs == null ? "pending" : JSON.stringify(op.output ?? null);
  return `${op.clientId} ${op.op} ${JSON.stringify(op.input)} → ${out} [${op.callMs}, ${op.returnMs ?? "∞"}]`;
}

export function describeMessage(m: Message): string {
  switch (m.type) {
    case "MsgApp":
      return `MsgApp t${m.term} prev ${m.index}/${m.logTerm} +${m.entries.length} commit ${m.commit}`;
    case "MsgAppResp":
      return `MsgAppResp t${m.term} ${m.reject ? `reject ${m.index} hint ${m.rejectHint}/${m.logTerm}` : `ok ${m.index}`}`;
    case "MsgVote":
    case "MsgPreVote":
      return `${m.type} t${m.term} last ${m.index}/${m.logTerm}${m.transfer ? " transfer" : ""}`;
    case "MsgVoteResp":
    case "MsgPreVoteResp":
      return `${m.type} t${m.term} ${m.reject ? "reject" : "grant"}`;
    case "MsgHeartbeat":
      return `MsgHeartbeat t${m.term} commit ${m.commit}`;
    case "MsgSnap":
      return `MsgSnap t${m.term} at ${m.snapshot.metadata.index}`;
    default:
      return `${m.type} t${m.term}`;
  }
}

/** Runs one seed with default options (and the given overrides). */
export function runSeed(options: Partial<SimOptions>, factory?: NodeFactory): SimResult {
  return new Simulation(options, factory).run();
}

/** A readable report of a failed run: property, detail, replay command, trace. */
export function formatFailure(
  result: Pick<SimResult, "seed" | "nodes" | "steps" | "failure">,
): string {
  const f = result.failure;
  if (f === null) return `seed ${result.seed}: ok`;
  return [
    `seed ${result.seed} (${result.nodes} nodes, ${result.steps} steps) FAILED at ${f.atMs} ms: ${f.property}`,
    f.message,
    `replay: ${f.replay}`,
    `last ${f.trace.length} events:`,
    ...f.trace.map((l) => `  ${l}`),
  ].join("\n");
}
