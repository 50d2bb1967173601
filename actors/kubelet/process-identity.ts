/**
 * Who a pid is, read from /proc, and signals to whole process groups. A pid is a number the
 * kernel hands out again once its process is gone, so anything that finds a pid written down
 * earlier — a restarted kubelet re-adopting its containers, `bosun down` stopping the pods of a
 * dead node — proves the pid still names the process it wrote down (`isSameProcess`) before it
 * adopts or signals it.
 */
import { readdirSync, readFileSync } from "node:fs";

/** The fields of /proc/<pid>/stat the identity check reads. */
export interface ProcStat {
  /** R, S, D, Z (zombie: dead, not yet reaped), X (dead), … */
  state: string;
  pgid: number;
  startTime: string;
}

/** What was written down about a process when it started, to recognise it later. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. */
  procStart: string;
  /** /proc/sys/kernel/random/boot_id when it started: start times restart at each boot. */
  bootId: string | null;
}

/**
 * Whether the process `observed` (read from /proc/<identity.pid>/stat now) is the one the
 * identity describes: alive (not a zombie), started at the recorded tick of the same boot, and
 * still the leader of its own process group (every container is started as one). A pid reused
 * by another process fails on the start time.
 */
export function isSameProcess(
  identity: ProcessIdentity,
  observed: ProcStat | null,
  currentBootId: string | null,
): boolean {
  if (observed === null) return false;
  if (observed.state === "Z" || observed.state === "X") return false;
  if (identity.bootId !== null && currentBootId !== null && identity.bootId !== currentBootId)
    return false;
  return observed.startTime === identity.procStart && observed.pgid === identity.pid;
}

/** State, process group and start time from /proc/<pid>/stat, or null when there is none. */
export function readProcStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces and parentheses: fields resume after the last ")"
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [state, , pgid] = fields;
    const startTime = fields[19];
    if (state === undefined || pgid === undefined || startTime === undefined) return null;
    return { state, pgid: Number(pgid), startTime };
  } catch {
    return null;
  }
}

let cachedBootId: string | null | undefined;
/** This boot's id (the start times in /proc count from boot), or null without /proc. */
export function currentBootId(): string | null {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId;
}

/** Signals a whole process group; a group already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/** Whether any process of the group led by `pid` is alive. */
export function isGroupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The process groups with at least one live (not zombie) member, from one pass over /proc. A
 * group outlives its leader while any member lives, and its id cannot be handed to a new
 * process meanwhile (the kernel frees a pid number only once no process uses it as a pid or a
 * group id): what is left of a container whose main process exited.
 */
export function liveProcessGroups(): Set<number> {
  const groups = new Set<number>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return groups;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat !== null && stat.state !== "Z" && stat.state !== "X") groups.add(stat.pgid);
  }
  return groups;
}

/** The first child of `pid` (a sandbox's INIT under its `unshare`), from /proc; null if none. */
export function firstChildPid(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    const first = Number(text.split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : null;
  } catch {
    return null;
  }
}
