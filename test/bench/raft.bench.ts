/**
 * `npm run bench:raft`: proposals per second through the Raft core on a 3-node in-memory cluster
 * with no faults and an instant network (one message hop = one simulated millisecond, a tick
 * every 10 ms), for 1 and 64 concurrent proposers. Each proposer keeps one proposal outstanding
 * at the leader and proposes the next as soon as the leader applies it.
 *
 * Reports throughput, and p50/p99 commit latency in simulated ms and in wall-clock µs.
 *   npm run bench:raft -- --json bench-results/raft.json
 * This file may read the real clock (performance.now): it measures the machine.
 */
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import {
  type ConfState,
  emptyConfState,
  type Message,
  type NodeId,
} from "../../raft/core/messages.ts";
import { RaftNode } from "../../raft/core/raft.ts";
import { MemoryStorage } from "../../raft/storage/memory.ts";

/** Proposals measured per scenario, after warm-up. */
const MEASURED_PROPOSALS = 100_000;
const WARMUP_PROPOSALS = 5_000;
const TICK_MS = 10;
/** Give up if a scenario makes no progress for this much simulated time. */
const STALL_LIMIT_MS = 10_000;
const PAYLOAD_BYTES = 128;
/**
 * Snapshot and compact each node's log every this many applied entries, as a real host does:
 * it keeps MemoryStorage small (its append copies the retained log).
 */
const COMPACT_EVERY_ENTRIES = 1_000;

interface ScenarioResult {
  proposers: number;
  proposals: number;
  wallSeconds: number;
  proposalsPerSecond: number;
  commitLatencySimMs: { p50: number; p99: number };
  commitLatencyWallUs: { p50: number; p99: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

class BenchCluster {
  readonly ids: NodeId[] = ["n1", "n2", "n3"];
  readonly nodes = new Map<
    NodeId,
    { raft: RaftNode; storage: MemoryStorage; applied: number; snapshotIndex: number }
  >();
  private readonly conf: ConfState;
  private inbox: Message[] = [];
  nowMs = 0;
  onApply: (leader: NodeId, node: NodeId, data: Uint8Array) => void = () => {};

  constructor() {
    const conf = { ...emptyConfState(), voters: this.ids };
    this.conf = conf;
    this.ids.forEach((id, i) => {
      const storage = new MemoryStorage(conf);
      const raft = new RaftNode({ id, storage, randomSeed: i + 1 });
      this.nodes.set(id, { raft, storage, applied: 0, snapshotIndex: 0 });
    });
  }

  leader(): RaftNode | null {
    for (const { raft } of this.nodes.values()) if (raft.status().role === "leader") return raft;
    return null;
  }

  /** One simulated millisecond: deliver what was sent, tick on the tick, drain every Ready. */
  step(): void {
    const due = this.inbox;
    this.inbox = [];
    for (const m of due) this.nodes.get(m.to)!.raft.step(m);
    if (this.nowMs % TICK_MS === 0) for (const { raft } of this.nodes.values()) raft.tick();
    for (const [id, node] of this.nodes) {
      const { raft, storage } = node;
      while (raft.hasReady()) {
        const rd = raft.ready();
        this.inbox.push(...rd.messages);
        if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
        storage.append(rd.entries);
        if (rd.hardState !== null) storage.setHardState(rd.hardState);
        this.inbox.push(...rd.messagesAfterPersist);
        for (const e of rd.committedEntries) {
          if (e.type === "normal" && e.data.byteLength > 0) this.onApply(id, id, e.data);
          node.applied = e.index;
        }
        raft.advance();
        if (node.applied - node.snapshotIndex >= COMPACT_EVERY_ENTRIES) {
          storage.createSnapshot(node.applied, this.conf, new Uint8Array());
          storage.compact(node.applied);
          node.snapshotIndex = node.applied;
        }
      }
    }
    this.nowMs++;
  }
}

function runScenario(proposers: number): ScenarioResult {
  const cluster = new BenchCluster();
  while (cluster.leader() === null) {
    cluster.step();
    if (cluster.nowMs > STALL_LIMIT_MS) throw new Error("no leader elected");
  }
  const leader = cluster.leader()!;
  const leaderId = [...cluster.nodes].find(([, n]) => n.raft === leader)![0];
  const started = new Map<number, { simMs: number; wallMs: number }>();
  const simLatencies: number[] = [];
  const wallLatencies: number[] = [];
  const total = WARMUP_PROPOSALS + MEASURED_PROPOSALS;
  let nextId = 0;
  let applied = 0;
  let measureStart = 0;
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const view = new DataView(payload.buffer);
  const propose = (): void => {
    if (nextId >= total) return;
    const id = nextId++;
    view.setUint32(0, id);
    started.set(id, { simMs: cluster.nowMs, wallMs: performance.now() });
    leader.propose(payload.slice());
  };
  cluster.onApply = (_leader, node, data) => {
    if (node !== leaderId) return;
    const id = new DataView(data.buffer, data.byteOffset).getUint32(0);
    const s = started.get(id);
    if (s === undefined) return;
    started.delete(id);
    applied++;
    if (applied === WARMUP_PROPOSALS) measureStart = performance.now();
    if (applied > WARMUP_PROPOSALS) {
      simLatencies.push(cluster.nowMs - s.simMs);
      wallLatencies.push((performance.now() - s.wallMs) * 1000);
    }
    propose();
  };
  for (let i = 0; i < proposers; i++) propose();
  let lastProgressMs = cluster.nowMs;
  let lastApplied = applied;
  while (applied < total) {
    cluster.step();
    if (applied !== lastApplied) {
      lastApplied = applied;
      lastProgressMs = cluster.nowMs;
    } else if (cluster.nowMs - lastProgressMs > STALL_LIMIT_MS) {
      throw new Error(`stalled at ${applied}/${total} proposals`);
    }
  }
  const wallSeconds = (performance.now() - measureStart) / 1000;
  simLatencies.sort((a, b) => a - b);
  wallLatencies.sort((a, b) => a - b);
  return {
    proposers,
    proposals: MEASURED_PROPOSALS,
    wallSeconds,
    proposalsPerSecond: MEASURED_PROPOSALS / wallSeconds,
    commitLatencySimMs: { p50: percentile(simLatencies, 50), p99: percentile(simLatencies, 99) },
    commitLatencyWallUs: { p50: percentile(wallLatencies, 50), p99: percentile(wallLatencies, 99) },
  };
}

const program = new Command("bench:raft")
  .description("proposals/s through the Raft core on a 3-node in-memory cluster")
  .option("--json <file>", "also write the results as JSON")
  .parse(process.argv);
const opts = program.opts<{ json?: string }>();

const results = [1, 64].map(runScenario);
console.log("proposers  proposals/s  p50 sim ms  p99 sim ms  p50 wall µs  p99 wall µs  wall s");
for (const r of results) {
  console.log(
    [
      String(r.proposers).padStart(9),
      r.proposalsPerSecond.toFixed(0).padStart(12),
      String(r.commitLatencySimMs.p50).padStart(11),
      String(r.commitLatencySimMs.p99).padStart(11),
      r.commitLatencyWallUs.p50.toFixed(0).padStart(12),
      r.commitLatencyWallUs.p99.toFixed(0).padStart(12),
      r.wallSeconds.toFixed(2).padStart(7),
    ].join(" "),
  );
}
if (opts.json !== undefined) {
  writeFileSync(
    opts.json,
    `${JSON.stringify({ benchmark: "raft-core", cluster: 3, network: "instant", tickMs: TICK_MS, payloadBytes: PAYLOAD_BYTES, results }, null, 2)}\n`,
  );
  console.log(`wrote ${opts.json}`);
}
