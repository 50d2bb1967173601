/**
 * Process faults on a role's holder:
 * - `kill`: SIGKILL, a crash with no handover (what fsync'd survives), healed by starting the
 *   member again on its data dir;
 * - `pause`: SIGSTOP, a process that stops answering but keeps its sockets open (a long GC
 *   pause, a frozen VM), healed by SIGCONT; it comes back with a stale term and stale Leases.
 * The holder is looked up when the fault starts, so "the scheduler's Lease holder" is whoever
 * holds it then.
 */
import type { FaultStarted, Nemesis, NemesisContext, TargetRole } from "./nemesis.ts";

const ROLE_WORDS: Record<TargetRole, string> = {
  "raft-leader": "raft leader",
  "raft-follower": "a raft follower",
  "controller-manager": "kube-controller-manager Lease holder",
  scheduler: "kube-scheduler Lease holder",
  any: "a random member",
};

export function killNemesis(target: TargetRole): Nemesis {
  let victim: string | null = null;
  return {
    name: "kill",
    async start(ctx: NemesisContext): Promise<FaultStarted> {
      victim = await ctx.holder(target);
      ctx.signal(victim, "SIGKILL");
      return { targets: [victim], description: `kill -9 ${victim} (${ROLE_WORDS[target]})` };
    },
    async heal(ctx) {
      if (victim === null) return;
      const member = victim;
      victim = null;
      await ctx.restart(member);
    },
  };
}

export function pauseNemesis(target: TargetRole): Nemesis {
  let victim: string | null = null;
  return {
    name: "pause",
    async start(ctx) {
      victim = await ctx.holder(target);
      ctx.signal(victim, "SIGSTOP");
      return { targets: [victim], description: `SIGSTOP ${victim} (${ROLE_WORDS[target]})` };
    },
    async heal(ctx) {
      if (victim === null) return;
      const member = victim;
      victim = null;
      ctx.signal(member, "SIGCONT");
    },
  };
}
