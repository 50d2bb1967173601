/**
 * The report of `bosun chaos run`: the settings, every fault window with what it measured, the
 * timeline of Raft leadership and Lease holders, throughput and latency per second, and the
 * verdicts, as data (`--json`) and text; `report-html.ts` draws the same data as a page. Pure.
 */
import { type ApiVerdict, isApiClean } from "./api-invariants.ts";
import { type Percentiles, summarize } from "./failover-windows.ts";
import type { ChaosOp } from "./history.ts";
import { type AnomalyCounts, countAnomalies, isClean, type WriteRef } from "./history-analysis.ts";
import { type HistoryTotals, historyTotals, MAX_EXAMPLES } from "./report.ts";
import type {
  FaultWindowReport,
  ScenarioOutcome,
  ScenarioSettings,
  TimelineSample,
} from "./scenario-run.ts";

/** Acknowledged operations and their latency in one second of the run. */
export interface SecondStats {
  /** Seconds from the run's start. */
  second: number;
  ackedOps: number;
  p50LatencyMs: number | null;
  p99LatencyMs: number | null;
  /** Operations called in that second whose outcome is unknown. */
  failed: number;
}

export interface ScenarioReport {
  kind: "bosun-chaos-run";
  settings: ScenarioSettings;
  windows: FaultWindowReport[];
  timeline: TimelineSample[];
  perSecond: SecondStats[];
  totals: HistoryTotals & {
    timeToFirstAckedWriteMs: Percentiles;
    timeToNewLeaderMs: Percentiles;
    recoveryMs: Percentiles;
  };
  verdicts: {
    linearizable: boolean | "unknown";
    failingKey?: string;
    explanation?: string;
    anomalies: AnomalyCounts;
    examples: { lost: WriteRef[]; duplicated: WriteRef[] };
    /** Every window healed and the cluster recovered within the bounds. */
    recovered: boolean;
    /** Kubernetes-level: acknowledged API writes reflected, no pod rebound, Deployment converged. */
    api: ApiVerdict | null;
  };
  error?: string;
  ok: boolean;
}

/** Most seconds the per-second series keeps (an hour). */
export const MAX_SERIES_SECONDS = 3_600;

export function perSecond(ops: readonly ChaosOp[], startMs: number): SecondStats[] {
  const buckets = new Map<number, { latencies: number[]; failed: number }>();
  const bucket = (s: number) => {
    let b = buckets.get(s);
    if (b === undefined) {
      b = { latencies: [], failed: 0 };
      buckets.set(s, b);
    }
    return b;
  };
  for (const op of ops) {
    if (op.returnMs !== undefined) {
      const s = Math.floor((op.returnMs - startMs) / 1000);
      if (s >= 0 && s < MAX_SERIES_SECONDS) bucket(s).latencies.push(op.returnMs - op.callMs);
    } else if (op.error !== undefined) {
      const s = Math.floor((op.callMs - startMs) / 1000);
      if (s >= 0 && s < MAX_SERIES_SECONDS) bucket(s).failed++;
    }
  }
  const last = Math.max(-1, ...buckets.keys());
  return Array.from({ length: last + 1 }, (_, second) => {
    const b = buckets.get(second) ?? { latencies: [], failed: 0 };
    const p = summarize(b.latencies);
    const sorted = [...b.latencies].sort((x, y) => x - y);
    return {
      second,
      ackedOps: b.latencies.length,
      p50LatencyMs: sorted.length === 0 ? null : sorted[Math.ceil(sorted.length / 2) - 1]!,
      p99LatencyMs: p.p99,
      failed: b.failed,
    };
  });
}

export function buildScenarioReport(
  settings: ScenarioSettings,
  outcome: ScenarioOutcome,
): ScenarioReport {
  const v = outcome.verdict;
  const lin = v?.linearizability;
  const recovered =
    outcome.windows.length > 0 &&
    outcome.windows.every((w) => w.error === undefined && w.recoveredMs !== null);
  const error = outcome.error;
  return {
    kind: "bosun-chaos-run",
    settings,
    windows: outcome.windows,
    timeline: outcome.timeline,
    perSecond: perSecond(outcome.ops, outcome.startMs),
    totals: {
      ...historyTotals(outcome.ops),
      timeToFirstAckedWriteMs: summarize(outcome.windows.map((w) => w.timeToFirstAckedWriteMs)),
      timeToNewLeaderMs: summarize(outcome.windows.map((w) => w.timeToNewLeaderMs)),
      recoveryMs: summarize(
        outcome.windows.map((w) => (w.recoveredMs === null ? null : w.recoveredMs - w.startMs)),
      ),
    },
    verdicts: {
      linearizable: lin === undefined ? "unknown" : lin.linearizable,
      ...(lin?.linearizable === false ? { failingKey: lin.key, explanation: lin.explanation } : {}),
      ...(lin?.linearizable === "unknown" ? { explanation: lin.reason } : {}),
      anomalies: v
        ? countAnomalies(v)
        : { lost: 0, duplicated: 0, phantom: 0, revisionMismatch: 0 },
      examples: {
        lost: (v?.lost ?? []).slice(0, MAX_EXAMPLES),
        duplicated: (v?.duplicated ?? []).slice(0, MAX_EXAMPLES),
      },
      recovered,
      api:
        outcome.api === null
          ? null
          : {
              ...outcome.api,
              configMaps: {
                ...outcome.api.configMaps,
                anomalies: outcome.api.configMaps.anomalies.slice(0, MAX_EXAMPLES),
              },
            },
    },
    ...(error === undefined ? {} : { error }),
    ok:
      error === undefined &&
      recovered &&
      v !== null &&
      isClean(v) &&
      (outcome.api === null || isApiClean(outcome.api)),
  };
}

const ms = (x: number | null | undefined) => (x == null ? "—" : `${x.toFixed(0)} ms`);

export function renderScenarioText(r: ScenarioReport): string {
  const s = r.settings;
  const t = r.totals;
  const v = r.verdicts;
  const lines = [
    `chaos run ${s.scenario} (seed ${s.seed}): ${s.servers} servers, ${(s.durationMs / 1000).toFixed(0)} s, ` +
      `faults of ${s.faultMs} ms every ${s.quietMs} ms of quiet, ${s.clients} clients on ${s.keys} keys`,
    "",
  ];
  for (const w of r.windows) {
    const takeovers = Object.entries(w.leaseTakeoverMs)
      .map(([lease, x]) => `${lease} Lease moved after ${ms(x)}`)
      .join(", ");
    lines.push(
      `window ${w.window} at ${(w.startMs / 1000).toFixed(1)} s: ${w.description || w.nemesis}`,
      `  leader ${w.leaderBefore ?? "—"} → ${w.leaderAfter ?? "—"}; new leader after ${ms(w.timeToNewLeaderMs)}` +
        `; first acked write after ${ms(w.timeToFirstAckedWriteMs)}; recovered ${ms(w.recoveredMs === null ? null : w.recoveredMs - w.startMs)} after the fault` +
        (takeovers ? `; ${takeovers}` : "") +
        (w.error ? `; error: ${w.error}` : ""),
    );
  }
  lines.push(
    "",
    `ops ${t.ops} (${t.puts} puts, ${t.gets} gets) in ${(t.durationMs / 1000).toFixed(1)} s, ` +
      `${t.opsPerSecond.toFixed(0)} acked ops/s; unknown outcome ${t.pending}`,
    `time to first acked write: p50 ${ms(t.timeToFirstAckedWriteMs.p50)}, max ${ms(t.timeToFirstAckedWriteMs.max)}`,
    `recovery after the fault:  p50 ${ms(t.recoveryMs.p50)}, max ${ms(t.recoveryMs.max)}`,
    `linearizable: ${v.linearizable === true ? "yes" : v.linearizable === false ? `NO (key ${v.failingKey})` : "unknown"}`,
    `acknowledged writes lost: ${v.anomalies.lost}; duplicated: ${v.anomalies.duplicated}` +
      `; phantom: ${v.anomalies.phantom}; revision mismatch: ${v.anomalies.revisionMismatch}`,
    `recovered after every window: ${v.recovered ? "yes" : "NO"}`,
  );
  if (v.api !== null) {
    const a = v.api;
    lines.push(
      `API writes: ${a.configMaps.written} ConfigMap writes, ${a.configMaps.checked} objects checked, ${a.configMaps.anomalies.length} not reflected` +
        `; pods seen ${a.pods.seen}, bound to two nodes ${a.pods.rebound.length}` +
        `; Deployment ${a.deployment.name} ${a.deployment.converged ? `converged after ${ms(a.deployment.convergedAfterMs)}` : `NOT converged (${a.deployment.last})`}` +
        (a.error ? `; error: ${a.error}` : ""),
    );
    lines.push(
      `Deployment rolled ${a.deployment.rolls} times under faults; rolls not reflected: ${a.deployment.rollAnomalies.length}`,
    );
    if (a.leases !== undefined) {
      lines.push(
        `Lease tenures ${a.leases.tenures}; two holders at once: ${a.leases.overlaps.length === 0 ? "never" : `${a.leases.overlaps.length} times, longest ${ms(a.leases.maxOverlapMs)}`}`,
      );
      for (const o of a.leases.overlaps.slice(0, MAX_EXAMPLES)) {
        lines.push(`  ${o.lease}: ${o.members.join(" and ")} for ${ms(o.overlapMs)}`);
      }
    }
    for (const x of a.configMaps.anomalies) {
      lines.push(
        `  ${x.name}: expected ${x.expected.join(" or ")}, found ${x.found ?? "(absent)"}`,
      );
    }
  }
  if (v.explanation) lines.push(v.explanation);
  if (r.error) lines.push(`error: ${r.error}`);
  lines.push(r.ok ? "PASS" : "FAIL");
  return lines.join("\n");
}
