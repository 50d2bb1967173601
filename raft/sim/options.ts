/**
 * Every knob and limit of a simulation run, named with its unit. Time is simulated milliseconds;
 * one simulation step advances it by one millisecond.
 */
import type { SessionLimits } from "../session/session-table.ts";

export interface FaultRates {
  /** Per-message probability that the network drops it. */
  lossRate: number;
  /** Per-message probability that the network delivers it twice. */
  duplicateRate: number;
  /** Per-step probabilities of starting each kind of fault. */
  crashPerStep: number;
  partitionPerStep: number;
  pausePerStep: number;
  slowDiskPerStep: number;
  transferLeaderPerStep: number;
  /** Per-step probability of (re)driving the membership plan one change forward. */
  membershipPerStep: number;
  /** Per-persist probability that even a healthy disk takes a few ms to sync. */
  diskHiccupRate: number;
  /**
   * Per election won: probability that the new leader crashes within a few ms, before its
   * first entries spread — the setting of the paper's Figure 8.
   */
  newLeaderCrashRate: number;
}

export interface SimOptions {
  seed: number;
  /** Initial voters: 3 or 5. */
  nodes: number;
  /** Simulated milliseconds of workload with faults, before healing. */
  steps: number;
  /** Raft tick interval; electionTick ticks make an election timeout. */
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  /** Core flow control: bytes per MsgApp and MsgApps in flight per follower. */
  maxSizePerMsgBytes: number;
  maxInflightMsgs: number;
  /**
   * Let the seed vary the cluster's shape too: client count, MsgApp size and in-flight limits
   * (small ones make partial replication — the Figure 8 setting — common). Replays stay exact.
   */
  varyBySeed: boolean;
  /** Network one-way delay bounds, and the bound while a "delay" fault is on. */
  minDelayMs: number;
  maxDelayMs: number;
  maxSlowDelayMs: number;
  /** Disk sync delay while a node's disk is slow, and for a healthy disk's hiccups. */
  slowDiskSyncMs: [number, number];
  hiccupSyncMs: [number, number];
  /** How long faults last once started. */
  crashDowntimeMs: [number, number];
  partitionMs: [number, number];
  pauseMs: [number, number];
  slowDiskMs: [number, number];
  /** At most this many nodes down (crashed or paused) at once; more would only stall the run. */
  maxNodesDown: number;
  faults: FaultRates;
  /** Clients, keys, and how clients behave. */
  clients: number;
  keys: number;
  /** Mean think time between a client's operations. */
  clientThinkMs: number;
  /** A client that heard nothing for this long retries (writes) or gives up (reads). */
  clientTimeoutMs: number;
  /** Fraction of operations that are reads (ReadIndex). */
  readFraction: number;
  sessionLimits: SessionLimits;
  /** Compaction: snapshot once this many entries are applied past the last snapshot ... */
  snapshotEveryEntries: number;
  /** ... and keep this many applied entries in the log behind it for slow followers. */
  compactionTrailingEntries: number;
  /** Grow 3 → 5 → 3 (or shrink 5 → 3 → 5) through the core's conf changes. */
  membershipChanges: boolean;
  /** After healing: the cluster must converge within this much simulated time. */
  livenessLimitMs: number;
  /** Linearizability search budget (steps of the checker, not time). */
  checkerMaxSteps: number;
  /** Events kept for the failure trace; and whether to print every event as it happens. */
  traceLimit: number;
  verbose: boolean;
}

export const DEFAULT_FAULT_RATES: FaultRates = {
  lossRate: 0.02,
  duplicateRate: 0.01,
  crashPerStep: 0.0015,
  partitionPerStep: 0.0015,
  pausePerStep: 0.0008,
  slowDiskPerStep: 0.0008,
  transferLeaderPerStep: 0.0008,
  membershipPerStep: 0.004,
  diskHiccupRate: 0.05,
  newLeaderCrashRate: 0.15,
};

export function defaultSimOptions(overrides: Partial<SimOptions> = {}): SimOptions {
  return {
    seed: 1,
    nodes: 3,
    steps: 3000,
    tickMs: 10,
    electionTick: 10,
    heartbeatTick: 1,
    maxSizePerMsgBytes: 1024 * 1024,
    maxInflightMsgs: 256,
    varyBySeed: true,
    minDelayMs: 1,
    maxDelayMs: 8,
    maxSlowDelayMs: 60,
    slowDiskSyncMs: [10, 60],
    hiccupSyncMs: [1, 5],
    crashDowntimeMs: [20, 600],
    partitionMs: [50, 800],
    pauseMs: [20, 400],
    slowDiskMs: [100, 800],
    maxNodesDown: 2,
    faults: DEFAULT_FAULT_RATES,
    clients: 4,
    keys: 3,
    clientThinkMs: 15,
    clientTimeoutMs: 300,
    readFraction: 0.35,
    sessionLimits: { maxSessions: 1000, sessionTtlMs: 1_000_000_000 },
    snapshotEveryEntries: 40,
    compactionTrailingEntries: 8,
    membershipChanges: true,
    livenessLimitMs: 8000,
    checkerMaxSteps: 2_000_000,
    traceLimit: 200,
    verbose: false,
    ...overrides,
  };
}
