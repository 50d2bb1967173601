/**
 * Lease safety, checked from the history: no two members act as the holder of one Lease at the
 * same instant. The Lease object cannot show it — its writes are compare-and-swap, so its
 * recorded holders never overlap — what matters is when each member *believed* it led, which
 * its own log says: the controller manager's "controllers started"/"controllers stopped" and
 * the scheduler's "scheduler started leading"/"scheduler stopped leading" lines. Every node of
 * a chaos run logs to one file in the run dir, stamped by pino with the host's wall clock
 * (`time`, which the clock-skew fault does not touch): one time base for every member.
 *
 * A tenure with no end line ended with its process (killed): at that process's last line.
 * `leaseOverlaps` is pure; `readLeadershipLogs` reads the files.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type LeaderRole = "kube-controller-manager" | "kube-scheduler";

/** The log lines that open and close a tenure, per Lease. */
const TENURE_LINES: Readonly<
  Record<string, { lease: LeaderRole; starts: boolean; component?: string }>
> = {
  // the cloud controller manager runs the same statechart on its own Lease: its lines, logged
  // under its own component, are not the kube controller manager's
  "controllers started": {
    lease: "kube-controller-manager",
    starts: true,
    component: "controller-manager",
  },
  "controllers stopped": {
    lease: "kube-controller-manager",
    starts: false,
    component: "controller-manager",
  },
  "scheduler started leading": { lease: "kube-scheduler", starts: true },
  "scheduler stopped leading": { lease: "kube-scheduler", starts: false },
};

/** The fields of a node's JSON log line this check reads. */
export interface LogLine {
  time: number;
  pid: number;
  msg: string;
  /** The logger's `component` (absent on lines without one). */
  component?: string;
}

export interface Tenure {
  lease: LeaderRole;
  member: string;
  fromMs: number;
  toMs: number;
  /** No end line: the process ended (its last line) or the run did. */
  open: boolean;
}

export interface LeaseOverlap {
  lease: LeaderRole;
  members: [string, string];
  /** Wall-clock ms when the second tenure began, and how long both held. */
  atMs: number;
  overlapMs: number;
}

export interface LeaseSafetyVerdict {
  tenures: number;
  overlaps: LeaseOverlap[];
  /** The longest overlap (0: none). */
  maxOverlapMs: number;
}

/** One member's tenures, from its log lines in order (several processes: restarts). */
export function tenuresOf(member: string, lines: readonly LogLine[]): Tenure[] {
  const out: Tenure[] = [];
  const open = new Map<LeaderRole, { fromMs: number; pid: number }>();
  const lastOfPid = new Map<number, number>();
  for (const line of lines) lastOfPid.set(line.pid, line.time);
  const close = (lease: LeaderRole, toMs: number, ended: boolean) => {
    const t = open.get(lease);
    if (t === undefined) return;
    open.delete(lease);
    out.push({ lease, member, fromMs: t.fromMs, toMs, open: ended });
  };
  for (const line of lines) {
    // a new process: whatever the previous one held ended with it
    for (const [lease, t] of open)
      if (t.pid !== line.pid) close(lease, lastOfPid.get(t.pid) ?? t.fromMs, true);
    const kind = TENURE_LINES[line.msg];
    if (kind === undefined) continue;
    if (kind.component !== undefined && line.component !== kind.component) continue;
    if (kind.starts) {
      if (!open.has(kind.lease)) open.set(kind.lease, { fromMs: line.time, pid: line.pid });
    } else close(kind.lease, line.time, false);
  }
  for (const [lease, t] of open) close(lease, lastOfPid.get(t.pid) ?? t.fromMs, true);
  return out;
}

/** Every pair of tenures of one Lease, on different members, that overlap in time. */
export function leaseOverlaps(tenures: readonly Tenure[]): LeaseSafetyVerdict {
  const overlaps: LeaseOverlap[] = [];
  const sorted = [...tenures].sort((a, b) => a.fromMs - b.fromMs);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j]!;
      if (b.fromMs >= a.toMs) break;
      if (b.lease !== a.lease || b.member === a.member) continue;
      overlaps.push({
        lease: a.lease,
        members: [a.member, b.member],
        atMs: b.fromMs,
        overlapMs: Math.min(a.toMs, b.toMs) - b.fromMs,
      });
    }
  }
  return {
    tenures: tenures.length,
    overlaps,
    maxOverlapMs: overlaps.reduce((m, o) => Math.max(m, o.overlapMs), 0),
  };
}

/** Parses one node's log (JSON lines; anything else is skipped). */
export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.startsWith("{")) continue;
    try {
      const o = JSON.parse(raw) as Partial<LogLine>;
      if (typeof o.time === "number" && typeof o.pid === "number" && typeof o.msg === "string")
        out.push({
          time: o.time,
          pid: o.pid,
          msg: o.msg,
          ...(typeof o.component === "string" ? { component: o.component } : {}),
        });
    } catch {
      // a line cut short by a kill -9
    }
  }
  return out;
}

/** Every member's tenures, from `runDir/logs/<member>.log`. */
export function readLeadershipLogs(runDir: string, members: readonly string[]): Tenure[] {
  return members.flatMap((m) => {
    const file = join(runDir, "logs", `${m}.log`);
    return existsSync(file) ? tenuresOf(m, parseLogLines(readFileSync(file, "utf8"))) : [];
  });
}
