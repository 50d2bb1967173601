/**
 * The failover report: what each round did and measured, and the verdict on the whole history,
 * as data (written as JSON with `--json`) and as text for a terminal. Pure.
 */
import { type Percentiles, summarize } from "./failover-windows.ts";
import type { FaultKind } from "./fault-injector.ts";
import type { ChaosOp } from "./history.ts";
import {
  type AnomalyCounts,
  countAnomalies,
  type HistoryVerdict,
  isClean,
  type WriteRef,
} from "./history-analysis.ts";

export interface RoundReport {
  round: number;
  fault: FaultKind;
  oldLeader: string;
  oldTerm: number;
  newLeader: string | null;
  newTerm: number | null;
  timeToNewLeaderMs: number | null;
  timeToFirstAckedWriteMs: number | null;
  /** From the fault to the faulted member being back and caught up. */
  restoredAfterMs: number | null;
  error?: string;
}

export interface RunSettings {
  servers: number;
  fault: FaultKind;
  rounds: number;
  clients: number;
  keys: number;
  requestTimeoutMs: number;
  tickMs: number | null;
  electionTicks: number | null;
  runDir: string;
}

export interface HistoryTotals {
  ops: number;
  puts: number;
  gets: number;
  ackedPuts: number;
  ackedGets: number;
  /** Failed or timed out: outcome unknown. */
  pending: number;
  durationMs: number;
  opsPerSecond: number;
}

export interface ChaosReport {
  settings: RunSettings;
  rounds: RoundReport[];
  totals: HistoryTotals & {
    timeToNewLeaderMs: Percentiles;
    timeToFirstAckedWriteMs: Percentiles;
  };
  verdict: {
    linearizable: boolean | "unknown";
    failingKey?: string;
    explanation?: string;
    anomalies: AnomalyCounts;
    /** The first few of each anomaly (the counts are exact). */
    examples: {
      lost: WriteRef[];
      duplicated: WriteRef[];
      phantom: WriteRef[];
      revisionMismatch: WriteRef[];
    };
  };
  /** Set when the run could not finish (no new leader, history unreadable, ...). */
  error?: string;
  ok: boolean;
}

/** How many examples of each anomaly the report keeps. */
export const MAX_EXAMPLES = 10;

export function historyTotals(ops: readonly ChaosOp[]): HistoryTotals {
  let puts = 0;
  let ackedPuts = 0;
  let ackedGets = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const op of ops) {
    if (op.op === "put") puts++;
    if (op.returnMs !== undefined) {
      if (op.op === "put") ackedPuts++;
      else ackedGets++;
      last = Math.max(last, op.returnMs);
    }
    first = Math.min(first, op.callMs);
  }
  const durationMs = ops.length === 0 || last < first ? 0 : last - first;
  return {
    ops: ops.length,
    puts,
    gets: ops.length - puts,
    ackedPuts,
    ackedGets,
    pending: ops.length - ackedPuts - ackedGets,
    durationMs,
    opsPerSecond: durationMs > 0 ? ((ackedPuts + ackedGets) * 1000) / durationMs : 0,
  };
}

export function buildReport(
  settings: RunSettings,
  rounds: RoundReport[],
  ops: readonly ChaosOp[],
  verdict: HistoryVerdict | null,
  error?: string,
): ChaosReport {
  const lin = verdict?.linearizability;
  const anomalies = verdict
    ? countAnomalies(verdict)
    : { lost: 0, duplicated: 0, phantom: 0, revisionMismatch: 0 };
  const first = <T>(list: T[] | undefined) => (list ?? []).slice(0, MAX_EXAMPLES);
  const roundsOk = rounds.length === settings.rounds && rounds.every((r) => r.error === undefined);
  return {
    settings,
    rounds,
    totals: {
      ...historyTotals(ops),
      timeToNewLeaderMs: summarize(rounds.map((r) => r.timeToNewLeaderMs)),
      timeToFirstAckedWriteMs: summarize(rounds.map((r) => r.timeToFirstAckedWriteMs)),
    },
    verdict: {
      linearizable: lin === undefined ? "unknown" : lin.linearizable,
      ...(lin?.linearizable === false ? { failingKey: lin.key, explanation: lin.explanation } : {}),
      ...(lin?.linearizable === "unknown" ? { explanation: lin.reason } : {}),
      anomalies,
      examples: {
        lost: first(verdict?.lost),
        duplicated: first(verdict?.duplicated),
        phantom: first(verdict?.phantom),
        revisionMismatch: first(verdict?.revisionMismatch),
      },
    },
    ...(error === undefined ? {} : { error }),
    ok: error === undefined && roundsOk && verdict !== null && isClean(verdict),
  };
}

const ms = (v: number | null) => (v === null ? "—" : `${v.toFixed(0)} ms`);

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd(),
  );
}

export function renderText(report: ChaosReport): string {
  const s = report.settings;
  const t = report.totals;
  const v = report.verdict;
  const lines = [
    `chaos failover: ${s.servers} servers, ${s.rounds} × ${s.fault}, ${s.clients} clients on ${s.keys} keys` +
      ` (request timeout ${s.requestTimeoutMs} ms${s.tickMs ? `, tick ${s.tickMs} ms` : ""}` +
      `${s.electionTicks ? `, election ${s.electionTicks} ticks` : ""})`,
    "",
    ...table([
      [
        "round",
        "fault",
        "old leader",
        "new leader",
        "new leader after",
        "first acked write after",
        "restored after",
      ],
      ...report.rounds.map((r) => [
        String(r.round),
        r.fault,
        `${r.oldLeader} (term ${r.oldTerm})`,
        r.newLeader === null ? "—" : `${r.newLeader} (term ${r.newTerm})`,
        ms(r.timeToNewLeaderMs),
        ms(r.timeToFirstAckedWriteMs),
        r.error === undefined ? ms(r.restoredAfterMs) : `error: ${r.error}`,
      ]),
    ]),
    "",
    `ops ${t.ops} (${t.puts} puts, ${t.gets} gets) in ${(t.durationMs / 1000).toFixed(1)} s, ` +
      `${t.opsPerSecond.toFixed(0)} acked ops/s; acked writes ${t.ackedPuts}, acked reads ${t.ackedGets}, ` +
      `unknown outcome ${t.pending}`,
    `time to new leader:        p50 ${ms(t.timeToNewLeaderMs.p50)}, p99 ${ms(t.timeToNewLeaderMs.p99)}, max ${ms(t.timeToNewLeaderMs.max)}`,
    `time to first acked write: p50 ${ms(t.timeToFirstAckedWriteMs.p50)}, p99 ${ms(t.timeToFirstAckedWriteMs.p99)}, max ${ms(t.timeToFirstAckedWriteMs.max)}`,
    `linearizable: ${v.linearizable === true ? "yes" : v.linearizable === false ? `NO (key ${v.failingKey})` : "unknown"}`,
    `acknowledged writes lost: ${v.anomalies.lost}; duplicated: ${v.anomalies.duplicated}` +
      `; phantom: ${v.anomalies.phantom}; revision mismatch: ${v.anomalies.revisionMismatch}`,
  ];
  if (v.explanation) lines.push(v.explanation);
  for (const [kind, refs] of Object.entries(v.examples)) {
    for (const r of refs) {
      lines.push(`  ${kind}: ${r.key} = ${r.value} (revisions ${r.revisions.join(", ") || "?"})`);
    }
  }
  if (report.error) lines.push(`error: ${report.error}`);
  lines.push(report.ok ? "PASS" : "FAIL");
  return lines.join("\n");
}
