/**
 * What a process has cost, read from /proc: CPU time (user + system) and peak resident memory.
 * Benchmarks read these for processes they did not start in-process (etcd members, bosun nodes,
 * hollow-node processes), so each side's server cost is measured the same way, independent of
 * how efficient the client driving it is.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;
/** USER_HZ, the unit of /proc/<pid>/stat's utime and stime (100 on every Linux seen so far). */
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** CPU milliseconds (user + system) a process has used so far; NaN when it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces: fields resume after the last ")"; utime and
    // stime are fields 14 and 15, so 11 and 12 counted from field 3
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / clockTicksPerSecond();
  } catch {
    return Number.NaN;
  }
}

/** Summed CPU milliseconds of several processes (NaN when one is gone). */
export function totalCpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
}

/** Peak resident set size (VmHWM) of a process, in MiB; NaN when it is gone. */
export function peakRssMiBOf(pid: number): number {
  return residentMiB(pid, "VmHWM");
}

/** Current resident set size (VmRSS) of a process, in MiB; NaN when it is gone. */
export function rssMiBOf(pid: number): number {
  return residentMiB(pid, "VmRSS");
}

function residentMiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU spent by this process (the benchmark's own client side) and by `serverPids` over `run`:
 * the client from `process.cpuUsage`, the servers from /proc.
 */
export async function measureCpu<T>(
  serverPids: number[],
  run: () => Promise<T>,
): Promise<{ result: T; clientCpuMs: number; serverCpuMs: number }> {
  const serverBefore = totalCpuMs(serverPids);
  const clientBefore = process.cpuUsage();
  const result = await run();
  const client = process.cpuUsage(clientBefore);
  const serverCpuMs = totalCpuMs(serverPids) - serverBefore;
  return { result, clientCpuMs: (client.user + client.system) / 1000, serverCpuMs };
}
