/**
 * The faults a failover round injects into one member, and how each is undone:
 * - `kill`: SIGKILL (a crash: no leadership transfer, no flush beyond what was fsync'd), undone
 *   by starting the process again on the same data dir;
 * - `pause`: SIGSTOP (a process that stops answering but keeps its sockets open, like a long
 *   GC pause or a frozen VM), undone by SIGCONT; the member comes back with a stale term.
 */
import type { ClusterUnderTest } from "./cluster-under-test.ts";

export const FAULT_KINDS = ["kill", "pause"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}

/** How long a killed member may take to exit and start again. */
const RESTART_TIMEOUT_MS = 30_000;

export class FaultInjector {
  constructor(private readonly cluster: ClusterUnderTest) {}

  /** Breaks `member`; returns the pid that received the signal. */
  inject(kind: FaultKind, member: string): number {
    return this.cluster.signal(member, kind === "kill" ? "SIGKILL" : "SIGSTOP");
  }

  /** Undoes the fault; the caller then waits for the member to catch up. */
  async restore(kind: FaultKind, member: string): Promise<void> {
    if (kind === "kill") await this.cluster.restart(member, RESTART_TIMEOUT_MS);
    else this.cluster.signal(member, "SIGCONT");
  }
}
