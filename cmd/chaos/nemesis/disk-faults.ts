/**
 * A slow disk: every fsync'd batch of the Raft log of the holder waits (the storage failpoint,
 * raft/storage/disk-faults.ts, set through `POST /admin/disk-faults` on a node with --faults).
 * A leader with a slow disk commits late; a follower acknowledges late.
 */
import { healIfUp, type Nemesis, type TargetRole } from "./nemesis.ts";

/** Long enough to matter against a 500 ms election timeout, short of one by itself. */
export const SLOW_DISK_SYNC_DELAY_MS = 200;

export function slowDiskNemesis(target: TargetRole): Nemesis {
  let victim: string | null = null;
  return {
    name: "slow-disk",
    async start(ctx) {
      victim = await ctx.holder(target);
      await ctx.setSyncDelay(victim, SLOW_DISK_SYNC_DELAY_MS);
      return {
        targets: [victim],
        description: `slow disk on ${victim} (${target}): each fsync waits ${SLOW_DISK_SYNC_DELAY_MS} ms`,
      };
    },
    async heal(ctx) {
      if (victim === null) return;
      const member = victim;
      victim = null;
      if (ctx.liveMembers().includes(member)) await healIfUp(ctx.setSyncDelay(member, 0));
    },
  };
}
