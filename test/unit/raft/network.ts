/**
 * A tiny, pure, in-test network of RaftNodes (no timers, no I/O). Messages travel through a
 * FIFO queue; each node's Ready is handled as a real host would: persist to its MemoryStorage,
 * then send (messages and messagesAfterPersist), apply committed entries, advance.
 * Partitions and drop filters let tests cut links.
 */

import type { RaftConfig } from "../../../raft/core/config.ts";
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  emptyConfState,
  type Message,
  type NodeId,
} from "../../../raft/core/messages.ts";
import { RaftNode } from "../../../raft/core/raft.ts";
import type { ReadState, Ready } from "../../../raft/core/ready.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";

export interface Peer {
  id: NodeId;
  node: RaftNode;
  storage: MemoryStorage;
  /** Data of applied normal entries with non-empty data, in order (the state machine). */
  applied: Entry[];
  appliedIndex: number;
  readStates: ReadState[];
  confState: ConfState;
  /** Every Ready this peer produced, for assertions on what was sent when. */
  readies: Ready[];
}

export type NodeOptions = Partial<Omit<RaftConfig, "id" | "storage">>;

const text = new TextEncoder();
export function bytes(s: string): Uint8Array {
  return text.encode(s);
}
export function str(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

export class Network {
  readonly peers = new Map<NodeId, Peer>();
  queue: Message[] = [];
  /** Links cut in the direction from → to. */
  private readonly cut = new Set<string>();
  /** Extra filter: return false to drop a message. */
  filter: ((m: Message) => boolean) | null = null;
  /** Every message delivered, for counting in tests. */
  delivered: Message[] = [];
  private readonly opts: NodeOptions;
  private restarts = 0;
  /** The membership every node is bootstrapped with (like etcd's --initial-cluster). */
  readonly bootstrapConf: ConfState;

  constructor(ids: NodeId[], opts: NodeOptions = {}, learners: NodeId[] = []) {
    this.opts = opts;
    this.bootstrapConf = { ...emptyConfState(), voters: [...ids], learners: [...learners] };
    ids.forEach((id, i) => {
      const cs: ConfState = { ...emptyConfState(), voters: [...ids], learners: [...learners] };
      this.addPeer(id, new MemoryStorage(cs), i + 1);
    });
    for (const [i, id] of learners.entries()) {
      const cs: ConfState = { ...emptyConfState(), voters: [...ids], learners: [...learners] };
      this.addPeer(id, new MemoryStorage(cs), 100 + i);
    }
  }

  /** Adds (or replaces, on restart) a peer backed by `storage`. */
  addPeer(
    id: NodeId,
    storage: MemoryStorage,
    seed: number,
    applied = 0,
    extra: NodeOptions = {},
  ): Peer {
    const node = new RaftNode({ randomSeed: seed, ...this.opts, ...extra, id, storage, applied });
    const cs = storage.initialState().confState;
    const peer: Peer = {
      id,
      node,
      storage,
      applied: [],
      appliedIndex: applied,
      readStates: [],
      confState: cs,
      readies: [],
    };
    this.peers.set(id, peer);
    return peer;
  }

  /**
   * A new, empty node that joins later. Like etcd's --initial-cluster, it starts from the
   * bootstrap membership: replaying the log's conf changes from index 1 (or installing a
   * snapshot) then yields the current one.
   */
  addJoiner(id: NodeId, seed: number): Peer {
    return this.addPeer(id, new MemoryStorage(this.bootstrapConf), seed);
  }

  /** Snapshots the node's state machine at its applied index and compacts its log there. */
  compact(id: NodeId): number {
    const p = this.peer(id);
    const data = bytes(JSON.stringify(this.appliedData(id)));
    p.storage.createSnapshot(p.appliedIndex, p.confState, data);
    p.storage.compact(p.appliedIndex);
    return p.appliedIndex;
  }

  /**
   * Crash-restarts a node from its storage, losing everything volatile. Like a real host, the
   * state machine restarts from the last snapshot and committed entries after it are applied
   * again (conf changes included, so the node's configuration matches its applied index).
   */
  restart(id: NodeId): Peer {
    const old = this.peer(id);
    const snap = old.storage.snapshot();
    // A fresh seed per restart: identical seeds would make nodes time out in lockstep forever.
    this.restarts++;
    const p = this.addPeer(
      id,
      old.storage,
      7919 * this.restarts + this.peers.size,
      snap.metadata.index,
    );
    p.applied = decodeStateMachine(snap.data);
    return p;
  }

  peer(id: NodeId): Peer {
    const p = this.peers.get(id);
    if (!p) throw new Error(`no peer ${id}`);
    return p;
  }

  node(id: NodeId): RaftNode {
    return this.peer(id).node;
  }

  isolate(id: NodeId): void {
    for (const other of this.peers.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  /** Cuts both directions between the two groups. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a)
      for (const y of b) {
        this.cut.add(`${x}>${y}`);
        this.cut.add(`${y}>${x}`);
      }
  }

  heal(): void {
    this.cut.clear();
    this.filter = null;
  }

  /** Handles one node's Ready like a host: persist, send, apply, advance. */
  processReady(p: Peer): boolean {
    if (!p.node.hasReady()) return false;
    const rd = p.node.ready();
    p.readies.push(rd);
    this.queue.push(...rd.messages);
    if (rd.snapshot) {
      p.storage.applySnapshot(rd.snapshot);
    }
    p.storage.append(rd.entries);
    if (rd.hardState) p.storage.setHardState(rd.hardState);
    this.queue.push(...rd.messagesAfterPersist);
    if (rd.snapshot) {
      // The state machine is replaced by the snapshot's (a JSON list of applied data here).
      p.applied = decodeStateMachine(rd.snapshot.data);
      p.appliedIndex = rd.snapshot.metadata.index;
      p.confState = rd.snapshot.metadata.confState;
    }
    for (const e of rd.committedEntries) {
      if (e.type === "confChange") {
        p.confState = p.node.applyConfChange(decodeConfChange(e.data));
      } else if (e.data.length > 0) {
        p.applied.push(e);
      }
      p.appliedIndex = e.index;
    }
    p.readStates.push(...rd.readStates);
    p.node.advance();
    return true;
  }

  /** Processes every node's Ready once; returns whether anything happened. */
  processReadies(): boolean {
    let any = false;
    for (const p of this.peers.values()) if (this.processReady(p)) any = true;
    return any;
  }

  /** Delivers one queued message (dropping it if its link is cut). */
  deliverOne(): Message | undefined {
    const m = this.queue.shift();
    if (!m) return undefined;
    if (this.cut.has(`${m.from}>${m.to}`) || (this.filter && !this.filter(m))) {
      this.lost(m);
      return m;
    }
    const p = this.peers.get(m.to);
    if (!p) return m;
    this.delivered.push(m);
    p.node.step(m);
    // The transport reports the outcome of a snapshot send.
    if (m.type === "MsgSnap") this.peers.get(m.from)?.node.reportSnapshot(m.to, true);
    return m;
  }

  /** A message is lost; a lost snapshot is reported as failed, as a transport would. */
  lost(m: Message): void {
    if (m.type === "MsgSnap") this.peers.get(m.from)?.node.reportSnapshot(m.to, false);
  }

  /** Drops the queued message at position i. */
  drop(i: number): void {
    const [m] = this.queue.splice(i, 1);
    if (m) this.lost(m);
  }

  /** Runs until no Ready and no message is left. */
  stabilize(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds; i++) {
      const busy = this.processReadies();
      if (this.queue.length === 0 && !busy) return;
      while (this.queue.length > 0) this.deliverOne();
    }
    const tail = this.delivered
      .slice(-12)
      .map(
        (m) =>
          `${m.type} ${m.from}->${m.to} t${m.term}${"index" in m ? ` i${m.index}` : ""}${"reject" in m ? ` rej=${m.reject}` : ""}${"entries" in m ? ` n=${m.entries.length}` : ""}`,
      );
    throw new Error(`network did not stabilize; last messages:\n${tail.join("\n")}`);
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  /** Ticks every node once and stabilizes, n times. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const p of this.peers.values()) p.node.tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign and runs until quiet. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  propose(id: NodeId, data: string): void {
    this.node(id).propose(bytes(data));
    this.stabilize();
  }

  appliedData(id: NodeId): string[] {
    return this.peer(id).applied.map((e) => str(e.data));
  }

  leaders(): NodeId[] {
    return [...this.peers.values()]
      .filter((p) => p.node.status().role === "leader")
      .map((p) => p.id);
  }

  /** Term of entry `index` in the node's storage. */
  storageTermAt(id: NodeId, index: number): number {
    return this.peer(id).storage.term(index);
  }

  /** The full log of a node as (index, term) pairs from its storage after the snapshot. */
  logTerms(id: NodeId): number[] {
    const s = this.peer(id).storage;
    const out: number[] = [];
    for (let i = s.firstIndex(); i <= s.lastIndex(); i++) out.push(s.term(i));
    return out;
  }
}

/** The harness's state machine in a snapshot: a JSON list of applied data (empty = none). */
function decodeStateMachine(data: Uint8Array): Entry[] {
  if (data.length === 0) return [];
  const list = JSON.parse(str(data)) as string[];
  return list.map((d, i) => ({ term: 0, index: i, type: "normal" as const, data: bytes(d) }));
}

/** A storage holding a log with the given terms at indexes 1..n, and the given hard state. */
export function storageWithLog(
  voters: NodeId[],
  terms: number[],
  hardState: { term: number; vote?: NodeId | null; commit?: number },
): MemoryStorage {
  const s = new MemoryStorage({ ...emptyConfState(), voters });
  s.append(
    terms.map((term, i) => ({
      term,
      index: i + 1,
      type: "normal" as const,
      data: bytes(`t${term}i${i + 1}`),
    })),
  );
  s.setHardState({
    term: hardState.term,
    vote: hardState.vote ?? null,
    commit: hardState.commit ?? 0,
  });
  return s;
}

/** A network whose peers start from the given storages (seeds 1, 2, ... in order). */
export function networkFrom(
  storages: Record<NodeId, MemoryStorage>,
  opts: NodeOptions = {},
): Network {
  const net = new Network([], opts);
  let seed = 1;
  for (const [id, s] of Object.entries(storages)) net.addPeer(id, s, seed++);
  return net;
}

/** Handles one Ready of a lone node (persist, apply, advance) and returns what it would send. */
export function drain(node: RaftNode, storage: MemoryStorage): Message[] {
  const out: Message[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    out.push(...rd.messages);
    if (rd.snapshot) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    out.push(...rd.messagesAfterPersist);
    for (const e of rd.committedEntries) {
      if (e.type === "confChange") node.applyConfChange(decodeConfChange(e.data));
    }
    node.advance();
  }
  return out;
}
