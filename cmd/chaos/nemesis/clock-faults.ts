/**
 * Clock skew on a role's holder (the node's SkewedClock, actors/system/skewed-clock.ts, set
 * through `POST /admin/clock-skew` on a node with --faults): its monotonic clock runs slow —
 * its timers fire late, so it judges its own renew deadline late — and its wall clock jumps.
 *
 * Composed with a partition of the same holder (scenarios.ts), its Lease renewals fail while
 * it still believes it leads: the run's lease-safety check (lease-safety.ts) then shows
 * whether its belief outlived the Lease as the others saw it.
 */
import type { ClockSkew } from "../../../actors/system/skewed-clock.ts";
import { healIfUp, type Nemesis, type TargetRole } from "./nemesis.ts";

/**
 * 10% slow: the holder's 700 ms renew deadline lasts 778 ms of real time, inside the 800 ms
 * Lease the others wait out — the skew client-go's timing margins are meant to absorb.
 */
export const CLOCK_SKEW: Readonly<ClockSkew> = Object.freeze({
  rate: 0.9,
  wallOffsetMs: 3_600_000,
});

export function clockSkewNemesis(target: TargetRole, skew: ClockSkew = CLOCK_SKEW): Nemesis {
  let victim: string | null = null;
  return {
    name: "clock-skew",
    async start(ctx) {
      victim = await ctx.holder(target);
      await ctx.setClockSkew(victim, skew);
      return {
        targets: [victim],
        description: `clock of ${victim} (${target}) at ${skew.rate}× speed, wall clock ${skew.wallOffsetMs >= 0 ? "+" : ""}${skew.wallOffsetMs} ms`,
      };
    },
    async heal(ctx) {
      if (victim === null) return;
      const member = victim;
      victim = null;
      if (ctx.liveMembers().includes(member))
        await healIfUp(ctx.setClockSkew(member, { rate: 1, wallOffsetMs: 0 }));
    },
  };
}
