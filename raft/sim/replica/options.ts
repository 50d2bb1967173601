/**
 * Every knob of a replica simulation run, named with its unit. Time is simulated milliseconds.
 * The defaults are sized so that one seed exercises elections, snapshots and InstallSnapshot,
 * crashes and partitions, and reads at followers, in about 3 simulated seconds of workload.
 */
import type { SessionLimits } from "../../session/session-table.ts";
import type { ReplicaMutation } from "./mutations.ts";

export interface ReplicaFaultRates {
  /** Per-message probability that the network drops it (links are FIFO; no duplicates). */
  lossRate: number;
  /** Per-step probabilities of starting each kind of fault. */
  crashPerStep: number;
  partitionPerStep: number;
  pausePerStep: number;
  slowDiskPerStep: number;
  transferLeaderPerStep: number;
  /** A flaky link: one directed link (leader → a follower) loses 20% or 50% for a while. */
  flakyLinkPerStep: number;
  /** Of crashes: the fraction that lose power (unsynced writes lost) rather than kill -9. */
  powerLossFraction: number;
  /** Per synced write: probability that even a healthy disk takes a few ms. */
  diskHiccupRate: number;
  /**
   * Per request reaching a server (a read or a proposal): probability that the leader is
   * disrupted a few ms later (leadership transferred, the leader crashed or cut off), so that
   * leader changes land in the middle of reads and session proposals.
   */
  leaderChangeDuringRequestRate: number;
}

export interface ReplicaSimOptions {
  seed: number;
  /** Voters: 3 or 5. */
  nodes: number;
  /** Simulated milliseconds of workload with faults, before healing. */
  steps: number;
  /** The replica's tick interval; electionTick ticks make an election timeout. */
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  /** Let the seed vary clients, snapshot interval and session table size. Replays stay exact. */
  varyBySeed: boolean;
  minDelayMs: number;
  maxDelayMs: number;
  maxSlowDelayMs: number;
  slowDiskSyncMs: [number, number];
  hiccupSyncMs: [number, number];
  crashDowntimeMs: [number, number];
  partitionMs: [number, number];
  pauseMs: [number, number];
  slowDiskMs: [number, number];
  /** A crashed server's peers see its connection close after this long (the fast failover). */
  connectionCloseMs: [number, number];
  /** At most this many servers down (crashed or paused) at once. */
  maxNodesDown: number;
  faults: ReplicaFaultRates;
  clients: number;
  keys: number;
  clientThinkMs: number;
  /** The store client's per-attempt timeout and attempts per write. */
  clientRequestTimeoutMs: number;
  clientMaxAttempts: number;
  /** Fraction of operations that are linearizable reads. */
  readFraction: number;
  /** Of reads: the fraction pinned to a server drawn from all of them, followers included. */
  pinnedReadFraction: number;
  sessionLimits: SessionLimits;
  /** The replica's snapshot interval and the entries it keeps behind a snapshot. */
  snapshotEveryEntries: number;
  keepEntriesAfterSnapshot: number;
  /** The replica's waiter timeouts. */
  proposalTimeoutMs: number;
  readTimeoutMs: number;
  /** After healing: the cluster must converge within this much simulated time. */
  livenessLimitMs: number;
  checkerMaxSteps: number;
  traceLimit: number;
  verbose: boolean;
  /** A planted bug to run with (mutations.ts); none by default. */
  mutation: ReplicaMutation | null;
}

export const DEFAULT_REPLICA_FAULT_RATES: ReplicaFaultRates = {
  lossRate: 0.005,
  crashPerStep: 0.0015,
  partitionPerStep: 0.0012,
  pausePerStep: 0.0006,
  slowDiskPerStep: 0.0008,
  transferLeaderPerStep: 0.0008,
  flakyLinkPerStep: 0.0008,
  powerLossFraction: 0.5,
  diskHiccupRate: 0.05,
  leaderChangeDuringRequestRate: 0.004,
};

export function defaultReplicaSimOptions(
  overrides: Partial<ReplicaSimOptions> = {},
): ReplicaSimOptions {
  return {
    seed: 1,
    nodes: 3,
    steps: 3000,
    tickMs: 10,
    electionTick: 10,
    heartbeatTick: 1,
    varyBySeed: true,
    minDelayMs: 1,
    maxDelayMs: 6,
    maxSlowDelayMs: 50,
    slowDiskSyncMs: [10, 60],
    hiccupSyncMs: [1, 5],
    crashDowntimeMs: [20, 800],
    partitionMs: [50, 700],
    pauseMs: [20, 300],
    slowDiskMs: [100, 700],
    connectionCloseMs: [1, 5],
    maxNodesDown: 2,
    faults: DEFAULT_REPLICA_FAULT_RATES,
    clients: 4,
    keys: 3,
    clientThinkMs: 10,
    clientRequestTimeoutMs: 300,
    clientMaxAttempts: 8,
    readFraction: 0.45,
    pinnedReadFraction: 0.8,
    sessionLimits: { maxSessions: 1000, sessionTtlMs: 1_000_000_000 },
    snapshotEveryEntries: 30,
    keepEntriesAfterSnapshot: 5,
    proposalTimeoutMs: 1000,
    readTimeoutMs: 1000,
    livenessLimitMs: 10_000,
    checkerMaxSteps: 2_000_000,
    traceLimit: 200,
    verbose: false,
    mutation: null,
    ...overrides,
  };
}
