/**
 * `bosun chaos run`: a workload runs against a live cluster while the scenario's nemeses open
 * fault windows one after another until the duration is spent. Each window: start the fault,
 * hold it `faultMs`, heal it, then wait until the cluster has recovered (every member answers,
 * agrees on a leader and has caught up, and writes flow again) and let it run quietly
 * `quietMs`. A sampler records who leads Raft and who holds each Lease all along, for the
 * report's timeline. After the last window the workload stops and the history is checked like
 * a failover run's (linearizable; no acknowledged write lost or duplicated).
 */
import { type Clock, sleep } from "../../actors/system/clock.ts";
import { deriveSeed, SeededRandom } from "../../actors/system/random.ts";
import type { ClockSkew } from "../../actors/system/skewed-clock.ts";
import type { StoreClient } from "../../raft/client/store-client.ts";
import type { FaultRule } from "../../transport/faults.ts";
import {
  type ApiPort,
  type ApiVerdict,
  ApiWorkload,
  checkApiInvariants,
  DEPLOYMENT_NAME,
  DEPLOYMENT_REPLICAS,
} from "./api-invariants.ts";
import type { ClusterUnderTest } from "./cluster-under-test.ts";
import { timeToFirstAckedWrite } from "./failover-windows.ts";
import { type ChaosOp, HistoryRecorder } from "./history.ts";
import { analyzeHistory, type HistoryVerdict, type StoreWrite } from "./history-analysis.ts";
import { LeaderWatcher, type StatusProbe, WaitTimeout } from "./leader-watcher.ts";
import { leaseOverlaps, readLeadershipLogs } from "./lease-safety.ts";
import type { OsFirewall } from "./nemesis/iptables-partition.ts";
import { composeNemeses, type NemesisContext, type TargetRole } from "./nemesis/nemesis.ts";
import type { NemesisRunEvent } from "./nemesis/nemesis-run.ts";
import { nemesisFactory } from "./nemesis/registry.ts";
import type { Scenario } from "./scenarios.ts";
import { readStoreHistory } from "./store-history.ts";
import { CHAOS_KEY_PREFIX, storeWorkloadClient, Workload } from "./workload.ts";

/** The Leases whose holders the timeline follows and process faults can target. */
export const TRACKED_LEASES = ["kube-controller-manager", "kube-scheduler"] as const;
export type TrackedLease = (typeof TRACKED_LEASES)[number];

export interface ScenarioSettings {
  scenario: string;
  seed: number;
  servers: number;
  durationMs: number;
  faultMs: number;
  quietMs: number;
  clients: number;
  keys: number;
  requestTimeoutMs: number;
  runDir: string;
}

export interface FaultWindowReport {
  window: number;
  nemesis: string;
  description: string;
  targets: string[];
  /** Times in ms from the run's start (the first workload operation's clock origin). */
  startMs: number;
  healMs: number | null;
  recoveredMs: number | null;
  leaderBefore: string | null;
  leaderAfter: string | null;
  /** From the fault's start to the first acknowledged put issued after it. */
  timeToFirstAckedWriteMs: number | null;
  /** From the fault's start to the first sample in which another member led Raft (if any did). */
  timeToNewLeaderMs: number | null;
  /** From the fault's start to the first sample with a different holder of each Lease. */
  leaseTakeoverMs: Partial<Record<TrackedLease, number>>;
  error?: string;
}

export interface TimelineSample {
  tMs: number;
  raftLeader: string | null;
  leases: Partial<Record<TrackedLease, string | null>>;
}

export interface ScenarioOutcome {
  startMs: number;
  windows: FaultWindowReport[];
  timeline: TimelineSample[];
  ops: readonly ChaosOp[];
  verdict: HistoryVerdict | null;
  storeWrites: StoreWrite[] | null;
  /** The Kubernetes-level checks, when the run had the API. */
  api: ApiVerdict | null;
  error?: string;
}

export interface ScenarioRun {
  settings: ScenarioSettings;
  scenario: Scenario;
  cluster: ClusterUnderTest;
  clock: Clock;
  storeClient: () => StoreClient;
  probe: StatusProbe;
  setFaultRules: (member: string, rules: FaultRule[]) => Promise<void>;
  setSyncDelay: (member: string, ms: number) => Promise<void>;
  setClockSkew: (member: string, skew: ClockSkew) => Promise<void>;
  /** A member's loopback address, and the host firewall (null: no iptables). */
  addressOf: (member: string) => string;
  firewall: OsFirewall | null;
  /** The holder of a Lease now (null: nobody), read from its Lease object. */
  leaseHolder: (lease: TrackedLease) => Promise<string | null>;
  /** The API, for the Kubernetes-level workload and checks (none: store checks only). */
  api?: ApiPort;
  /** The nemesis statechart's inbox (the actor `chaos-nemesis` of the chaos process). */
  nemesisEvents?: (event: NemesisRunEvent) => void;
  log: (line: string) => void;
}

const LEADER_TIMEOUT_MS = 30_000;
const HOLDER_TIMEOUT_MS = 30_000;
const RECOVERY_TIMEOUT_MS = 60_000;
const STOP_WORKLOAD_TIMEOUT_MS = 30_000;
const HISTORY_READ_TIMEOUT_MS = 60_000;
const RESTART_TIMEOUT_MS = 30_000;
/** Acknowledged puts that show writes flow: before the first fault and after each heal. */
const SETTLE_ACKED_PUTS = 50;
/** The timeline's resolution; also the resolution of the new-leader and Lease takeover times. */
export const SAMPLE_INTERVAL_MS = 100;
/** Most timeline samples kept (an hour at the interval above). */
export const MAX_TIMELINE_SAMPLES = 36_000;
const POLL_MS = 50;

export async function runScenario(run: ScenarioRun): Promise<ScenarioOutcome> {
  const { settings, clock, log } = run;
  const recorder = new HistoryRecorder(() => clock.nowMs());
  const watcher = new LeaderWatcher(clock, run.probe);
  const random = new SeededRandom(deriveSeed(settings.seed, settings.scenario));
  const workload = new Workload({
    clients: settings.clients,
    keys: settings.keys,
    recorder,
    newClient: () => storeWorkloadClient(run.storeClient()),
    seed: settings.seed,
  });
  const startMs = clock.nowMs();
  const timeline: TimelineSample[] = [];
  const sampler = sampleTimeline(run, startMs, timeline);
  const ctx = nemesisContext(run, watcher, random);
  const windows: FaultWindowReport[] = [];
  let error: string | undefined;
  const apiWorkload = run.api === undefined ? null : new ApiWorkload(run.api, clock);
  if (run.api !== undefined) {
    await run.api.createDeployment(DEPLOYMENT_NAME, DEPLOYMENT_REPLICAS);
    apiWorkload?.start();
  }
  workload.start();
  try {
    await ackedPuts(recorder, clock, 0, "the workload to start");
    const endMs = startMs + settings.durationMs;
    for (let window = 1; window === 1 || clock.nowMs() < endMs; window++) {
      const choice = run.scenario.choices[random.intn(run.scenario.choices.length)]!;
      const report = await runWindow(
        run,
        ctx,
        window,
        choice,
        recorder,
        watcher,
        startMs,
        timeline,
        apiWorkload,
      );
      windows.push(report);
      log(windowLine(report));
      if (report.error !== undefined) {
        error = `window ${window}: ${report.error}`;
        break;
      }
      await sleep(clock, settings.quietMs);
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
  sampler.stop();
  await sampler.done;
  let api: ApiVerdict | null = null;
  if (apiWorkload !== null && run.api !== undefined) {
    log("checking the Kubernetes-level invariants");
    await Promise.race([apiWorkload.stop(), sleep(clock, STOP_WORKLOAD_TIMEOUT_MS)]);
    api = await checkApiInvariants(run.api, apiWorkload, clock);
    api.leases = leaseOverlaps(readLeadershipLogs(settings.runDir, run.cluster.ids()));
  }
  let verdict: HistoryVerdict | null = null;
  let storeWrites: StoreWrite[] | null = null;
  try {
    log("reading the store's history of the workload's keys");
    const historyClient = run.storeClient();
    storeWrites = await readStoreHistory(
      historyClient,
      clock,
      recorder,
      CHAOS_KEY_PREFIX,
      workload.keys,
      HISTORY_READ_TIMEOUT_MS,
    ).finally(() => historyClient.close());
    log(`checking ${recorder.ops.length} operations against ${storeWrites.length} store writes`);
    verdict = analyzeHistory(recorder.ops, storeWrites);
  } catch (e) {
    error ??= `history check: ${(e as Error).message}`;
  }
  return {
    startMs,
    windows,
    timeline,
    ops: recorder.ops,
    verdict,
    storeWrites,
    api,
    ...(error === undefined ? {} : { error }),
  };
}

function nemesisContext(
  run: ScenarioRun,
  watcher: LeaderWatcher,
  random: SeededRandom,
): NemesisContext {
  const { cluster, clock } = run;
  const pick = (list: string[]) => {
    if (list.length === 0) throw new Error("no live member to aim at");
    return list[random.intn(list.length)]!;
  };
  return {
    members: cluster.ids(),
    random,
    async holder(role: TargetRole) {
      if (role === "any") return pick(cluster.liveIds());
      if (role === "raft-leader" || role === "raft-follower") {
        const { leader } = await watcher.agreedLeader(() => cluster.liveIds(), LEADER_TIMEOUT_MS);
        return role === "raft-leader"
          ? leader
          : pick(cluster.liveIds().filter((m) => m !== leader));
      }
      const lease = role === "scheduler" ? "kube-scheduler" : "kube-controller-manager";
      const deadline = clock.nowMs() + HOLDER_TIMEOUT_MS;
      for (;;) {
        const holder = await run.leaseHolder(lease).catch(() => null);
        if (holder !== null && cluster.liveIds().includes(holder)) return holder;
        if (clock.nowMs() >= deadline) {
          throw new WaitTimeout(
            `a live holder of Lease ${lease}`,
            HOLDER_TIMEOUT_MS,
            String(holder),
          );
        }
        await sleep(clock, POLL_MS);
      }
    },
    signal: (member, signal) => void cluster.signal(member, signal),
    restart: (member) => cluster.restart(member, RESTART_TIMEOUT_MS),
    setFaultRules: run.setFaultRules,
    setSyncDelay: run.setSyncDelay,
    setClockSkew: run.setClockSkew,
    addressOf: run.addressOf,
    firewall: run.firewall,
    liveMembers: () => cluster.liveIds(),
  };
}

async function runWindow(
  run: ScenarioRun,
  ctx: NemesisContext,
  window: number,
  choice: { nemeses: string[]; target: TargetRole },
  recorder: HistoryRecorder,
  watcher: LeaderWatcher,
  startMs: number,
  timeline: readonly TimelineSample[],
  apiWorkload: ApiWorkload | null,
): Promise<FaultWindowReport> {
  const { clock, cluster, settings } = run;
  const tell = run.nemesisEvents ?? (() => undefined);
  const name = choice.nemeses.join("+");
  const nemesis =
    choice.nemeses.length === 1
      ? nemesisFactory(choice.nemeses[0]!)(choice.target)
      : composeNemeses(
          name,
          choice.nemeses.map((n) => nemesisFactory(n)(choice.target)),
        );
  const before = await watcher.agreedLeader(() => cluster.liveIds(), LEADER_TIMEOUT_MS);
  const holdersBefore = timeline.at(-1)?.leases ?? {};
  const report: FaultWindowReport = {
    window,
    nemesis: name,
    description: "",
    targets: [],
    startMs: 0,
    healMs: null,
    recoveredMs: null,
    leaderBefore: before.leader,
    leaderAfter: null,
    timeToFirstAckedWriteMs: null,
    timeToNewLeaderMs: null,
    leaseTakeoverMs: {},
  };
  const fromIndex = recorder.ops.length;
  const sampleFrom = timeline.length;
  // The fault's instant is when `start` resolved (signal sent, rules in force everywhere), not
  // when the holder lookup began: a put issued during the lookup may still commit normally.
  let faultMs = clock.nowMs();
  report.startMs = faultMs - startMs;
  tell({ type: "START", nemesis: name });
  try {
    const s = await nemesis.start(ctx);
    faultMs = clock.nowMs();
    // the Deployment's rolling update runs under the fault
    apiWorkload?.roll(`window-${window}`);
    report.startMs = faultMs - startMs;
    report.description = s.description;
    report.targets = s.targets;
    tell({ type: "STARTED", targets: s.targets, description: s.description });
    await sleep(clock, settings.faultMs);
  } catch (e) {
    report.error = `start: ${(e as Error).message}`;
  }
  tell({ type: "HEAL" });
  try {
    await nemesis.heal(ctx);
    report.healMs = clock.nowMs() - startMs;
    tell({ type: "HEALED" });
    if (report.error !== undefined) throw new Error(report.error);
    // Recovered: everyone answers, agrees on a leader, has caught up; writes flow again.
    for (const m of cluster.ids()) await watcher.answering(m, RECOVERY_TIMEOUT_MS);
    const after = await watcher.agreedLeader(() => cluster.ids(), RECOVERY_TIMEOUT_MS);
    for (const m of cluster.ids()) {
      if (m !== after.leader) await watcher.caughtUp(m, after.leader, RECOVERY_TIMEOUT_MS);
    }
    await ackedPuts(recorder, clock, clock.nowMs(), "writes after healing");
    report.leaderAfter = after.leader;
    report.recoveredMs = clock.nowMs() - startMs;
    tell({ type: "RECOVERED" });
  } catch (e) {
    report.error ??= (e as Error).message;
    tell({ type: "FAILED", error: report.error });
  }
  report.timeToFirstAckedWriteMs = timeToFirstAckedWrite(recorder.ops, faultMs, fromIndex);
  const later = timeline.slice(sampleFrom);
  const leaderChange = later.find((s) => s.raftLeader !== null && s.raftLeader !== before.leader);
  if (leaderChange) report.timeToNewLeaderMs = leaderChange.tMs + startMs - faultMs;
  for (const lease of TRACKED_LEASES) {
    const was = holdersBefore[lease];
    const change = later.find((s) => s.leases[lease] && was && s.leases[lease] !== was);
    if (change) report.leaseTakeoverMs[lease] = change.tMs + startMs - faultMs;
  }
  return report;
}

/** Samples who leads Raft and who holds each Lease until stopped. */
function sampleTimeline(
  run: ScenarioRun,
  startMs: number,
  into: TimelineSample[],
): { stop: () => void; done: Promise<void> } {
  let stopping = false;
  const { clock, cluster } = run;
  const done = (async () => {
    while (!stopping && into.length < MAX_TIMELINE_SAMPLES) {
      const tMs = clock.nowMs() - startMs;
      const live = cluster.liveIds();
      // Probes and Lease reads at once, so a slow API (a fault is on) does not coarsen the
      // Raft lane's resolution beyond the slowest read.
      const [views, holders] = await Promise.all([
        Promise.all(live.map((m) => run.probe(m).catch(() => null))),
        Promise.all(TRACKED_LEASES.map((lease) => run.leaseHolder(lease).catch(() => null))),
      ]);
      // The leader a member claims to be; with two claimants (a partitioned old leader) the
      // one with the higher term leads.
      let raftLeader: string | null = null;
      let term = -1;
      views.forEach((v, i) => {
        if (v?.role === "leader" && v.term > term) {
          raftLeader = live[i] ?? null;
          term = v.term;
        }
      });
      const leases: TimelineSample["leases"] = {};
      TRACKED_LEASES.forEach((lease, i) => {
        leases[lease] = holders[i] ?? null;
      });
      into.push({ tMs, raftLeader, leases });
      await sleep(clock, SAMPLE_INTERVAL_MS);
    }
  })();
  return {
    stop: () => {
      stopping = true;
    },
    done,
  };
}

async function ackedPuts(
  recorder: HistoryRecorder,
  clock: Clock,
  sinceMs: number,
  what: string,
): Promise<void> {
  const deadline = clock.nowMs() + RECOVERY_TIMEOUT_MS;
  while (recorder.ackedPutsSince(sinceMs) < SETTLE_ACKED_PUTS) {
    if (clock.nowMs() >= deadline) {
      throw new WaitTimeout(
        what,
        RECOVERY_TIMEOUT_MS,
        `${recorder.ackedPutsSince(sinceMs)} of ${SETTLE_ACKED_PUTS}`,
      );
    }
    await sleep(clock, POLL_MS);
  }
}

function windowLine(w: FaultWindowReport): string {
  const f = (v: number | null | undefined) => (v == null ? "—" : `${v.toFixed(0)} ms`);
  const recovered = w.recoveredMs === null ? null : w.recoveredMs - w.startMs;
  return (
    `window ${w.window}: ${w.description || w.nemesis}; first acked write after ${f(w.timeToFirstAckedWriteMs)}` +
    `, new leader after ${f(w.timeToNewLeaderMs)}, recovered after ${f(recovered)}` +
    (w.error === undefined ? "" : `; error: ${w.error}`)
  );
}
