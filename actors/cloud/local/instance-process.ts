/**
 * What the local cloud's "machines" are: node processes on this host. An instance is running
 * while its process lives, shut down while it is stopped (SIGSTOP) or not running, and gone once
 * its record is deleted. A pid is this instance's only if the process started when the record
 * says (Linux reuses pids).
 */
import { readFileSync } from "node:fs";

export type InstanceState = "running" | "stopped";

interface ProcStat {
  state: string;
  startTicks: number;
}

/** Fields 3 (state) and 22 (starttime) of /proc/<pid>/stat; null when there is no such process. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // the command name (field 2) is in parentheses and may hold spaces: split after its end
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0] ?? "", startTicks: Number(fields[19]) };
}

/** Running, or stopped: a process paused, dead, or replaced by another under its pid. */
export function instanceState(pid: number, startTicks: number | null): InstanceState {
  const stat = procStat(pid);
  if (stat === null) return "stopped";
  if (startTicks !== null && stat.startTicks !== startTicks) return "stopped";
  // T: stopped by a signal, t: by a debugger, Z/X: dead, waiting to be reaped
  return "TtZX".includes(stat.state) ? "stopped" : "running";
}
