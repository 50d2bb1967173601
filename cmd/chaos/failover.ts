/**
 * The failover scenario behind `bosun chaos failover`: a workload runs against a live cluster
 * while, round after round, the leader is killed or paused; each round measures how long the
 * cluster had no leader and no acknowledged writes, then repairs the member and lets the
 * cluster settle. At the end the workload stops and the history is checked (linearizability,
 * lost and duplicated writes).
 */

import { type Clock, sleep } from "../../actors/system/clock.ts";
import type { StoreClient } from "../../raft/client/store-client.ts";
import type { ClusterUnderTest } from "./cluster-under-test.ts";
import { timeToFirstAckedWrite } from "./failover-windows.ts";
import { FaultInjector } from "./fault-injector.ts";
import { type ChaosOp, HistoryRecorder } from "./history.ts";
import { analyzeHistory, type HistoryVerdict, type StoreWrite } from "./history-analysis.ts";
import { LeaderWatcher, type StatusProbe, WaitTimeout } from "./leader-watcher.ts";
import { buildReport, type ChaosReport, type RoundReport, type RunSettings } from "./report.ts";
import { readStoreHistory } from "./store-history.ts";
import { CHAOS_KEY_PREFIX, roundRobinServers, storeWorkloadClient, Workload } from "./workload.ts";

export interface FailoverRun {
  settings: RunSettings;
  cluster: ClusterUnderTest;
  /** A new store client (one session) of the client member. */
  storeClient: () => StoreClient;
  probe: StatusProbe;
  /** Every time in the run (history, fault instants, polls) is this clock's `nowMs()`. */
  clock: Clock;
  log: (line: string) => void;
  seed?: number;
  /** Gets the client history and the store's writes (null: unreadable) once the run is over. */
  onHistory?: (ops: readonly ChaosOp[], storeWrites: readonly StoreWrite[] | null) => void;
}

/** Bounds on every wait of a round: an election, a restart and a catch-up take far less. */
const LEADER_TIMEOUT_MS = 30_000;
const FIRST_WRITE_TIMEOUT_MS = 30_000;
const CATCH_UP_TIMEOUT_MS = 60_000;
const SETTLE_TIMEOUT_MS = 30_000;
const STOP_WORKLOAD_TIMEOUT_MS = 30_000;
const HISTORY_READ_TIMEOUT_MS = 60_000;
/** Acknowledged puts required before the first fault and after each repair. */
const SETTLE_ACKED_PUTS = 50;
const PROGRESS_POLL_MS = 5;

export async function runFailover(run: FailoverRun): Promise<ChaosReport> {
  const { settings, cluster, clock, log } = run;
  const recorder = new HistoryRecorder(() => clock.nowMs());
  const watcher = new LeaderWatcher(clock, run.probe);
  const injector = new FaultInjector(cluster);
  const readServer = roundRobinServers(() => cluster.ids());
  const workload = new Workload({
    clients: settings.clients,
    keys: settings.keys,
    recorder,
    // linearizable reads from every server in turn, followers included
    newClient: () => storeWorkloadClient(run.storeClient(), readServer),
    seed: run.seed ?? 1,
  });
  const rounds: RoundReport[] = [];
  let error: string | undefined;
  workload.start();
  try {
    await ackedPuts(recorder, clock, 0, SETTLE_ACKED_PUTS, "the workload to start");
    for (let round = 1; round <= settings.rounds; round++) {
      const report = await runRound(run, round, recorder, watcher, injector);
      rounds.push(report);
      log(roundLine(report));
      if (report.error !== undefined) {
        error = `round ${round}: ${report.error}`;
        break;
      }
    }
  } catch (e) {
    error = (e as Error).message;
  }
  log("stopping the workload");
  const stopped = await Promise.race([
    workload.stop().then(() => true),
    sleep(clock, STOP_WORKLOAD_TIMEOUT_MS).then(() => false),
  ]);
  if (!stopped) log(`workload still had operations in flight after ${STOP_WORKLOAD_TIMEOUT_MS} ms`);
  let verdict: HistoryVerdict | null = null;
  let writes: StoreWrite[] | null = null;
  try {
    log("reading the store's history of the workload's keys");
    const historyClient = run.storeClient();
    writes = await readStoreHistory(
      historyClient,
      clock,
      recorder,
      CHAOS_KEY_PREFIX,
      workload.keys,
      HISTORY_READ_TIMEOUT_MS,
    ).finally(() => historyClient.close());
    log(`checking ${recorder.ops.length} operations against ${writes.length} store writes`);
    const checkStartMs = clock.nowMs();
    verdict = analyzeHistory(recorder.ops, writes);
    log(`checked in ${(clock.nowMs() - checkStartMs).toFixed(0)} ms`);
  } catch (e) {
    error ??= `history check: ${(e as Error).message}`;
  }
  run.onHistory?.(recorder.ops, writes);
  return buildReport(settings, rounds, recorder.ops, verdict, error);
}

async function runRound(
  run: FailoverRun,
  round: number,
  recorder: HistoryRecorder,
  watcher: LeaderWatcher,
  injector: FaultInjector,
): Promise<RoundReport> {
  const { cluster, clock, settings } = run;
  const fault = settings.fault;
  const old = await watcher.agreedLeader(() => cluster.liveIds(), LEADER_TIMEOUT_MS);
  const report: RoundReport = {
    round,
    fault,
    oldLeader: old.leader,
    oldTerm: old.term,
    newLeader: null,
    newTerm: null,
    timeToNewLeaderMs: null,
    timeToFirstAckedWriteMs: null,
    restoredAfterMs: null,
  };
  const fromIndex = recorder.ops.length;
  const faultMs = recorder.now();
  injector.inject(fault, old.leader);
  try {
    const survivors = cluster.ids().filter((id) => id !== old.leader);
    const [next, firstWriteMs] = await Promise.all([
      watcher.newLeader(survivors, old.leader, LEADER_TIMEOUT_MS),
      firstAckedWrite(recorder, clock, faultMs, fromIndex),
    ]);
    report.newLeader = next.leader;
    report.newTerm = next.term;
    report.timeToNewLeaderMs = next.seenMs - faultMs;
    report.timeToFirstAckedWriteMs = firstWriteMs;

    await injector.restore(fault, old.leader);
    await watcher.answering(old.leader, CATCH_UP_TIMEOUT_MS);
    const leader = await watcher.agreedLeader(() => cluster.liveIds(), SETTLE_TIMEOUT_MS);
    await watcher.caughtUp(old.leader, leader.leader, CATCH_UP_TIMEOUT_MS);
    report.restoredAfterMs = recorder.now() - faultMs;
    // Let the workload run on the whole cluster again before the next fault.
    await ackedPuts(recorder, clock, recorder.now(), SETTLE_ACKED_PUTS, "writes after repair");
  } catch (e) {
    report.error = (e as Error).message;
  }
  return report;
}

/** Polls the history until a put issued after the fault is acknowledged. */
async function firstAckedWrite(
  recorder: HistoryRecorder,
  clock: Clock,
  faultMs: number,
  fromIndex: number,
): Promise<number> {
  const deadline = clock.nowMs() + FIRST_WRITE_TIMEOUT_MS;
  for (;;) {
    const window = timeToFirstAckedWrite(recorder.ops, faultMs, fromIndex);
    if (window !== null) return window;
    if (clock.nowMs() >= deadline) {
      throw new WaitTimeout(
        "an acknowledged write after the fault",
        FIRST_WRITE_TIMEOUT_MS,
        "none",
      );
    }
    await sleep(clock, PROGRESS_POLL_MS);
  }
}

async function ackedPuts(
  recorder: HistoryRecorder,
  clock: Clock,
  sinceMs: number,
  count: number,
  what: string,
): Promise<void> {
  const deadline = clock.nowMs() + SETTLE_TIMEOUT_MS;
  while (recorder.ackedPutsSince(sinceMs) < count) {
    if (clock.nowMs() >= deadline) {
      throw new WaitTimeout(
        what,
        SETTLE_TIMEOUT_MS,
        `${recorder.ackedPutsSince(sinceMs)} of ${count}`,
      );
    }
    await sleep(clock, PROGRESS_POLL_MS * 10);
  }
}

function roundLine(r: RoundReport): string {
  const f = (v: number | null) => (v === null ? "—" : `${v.toFixed(0)} ms`);
  return (
    `round ${r.round}: ${r.fault} ${r.oldLeader} (term ${r.oldTerm}) → ` +
    `${r.newLeader ?? "no leader"}${r.newTerm === null ? "" : ` (term ${r.newTerm})`}; ` +
    `new leader after ${f(r.timeToNewLeaderMs)}, first acked write after ${f(r.timeToFirstAckedWriteMs)}` +
    `${r.error === undefined ? `, restored after ${f(r.restoredAfterMs)}` : `; error: ${r.error}`}`
  );
}
