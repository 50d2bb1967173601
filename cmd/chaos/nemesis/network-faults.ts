/**
 * Network faults through the transport's fault rules (transport/faults.ts, DESIGN §4): every
 * member gets the rules for its side of the fault, and healing clears them everywhere. The
 * chaos process's own client member is never in a rule, so clients still reach every member —
 * Jepsen's model, where the partition is between the servers.
 *
 * `partitionRules` is pure: groups of members in, each member's rules out.
 */
import type { FaultRule } from "../../../transport/faults.ts";
import {
  type FaultStarted,
  healIfUp,
  type Nemesis,
  type NemesisContext,
  type TargetRole,
} from "./nemesis.ts";

/**
 * Rules cutting every link between members that share no group. A member in two groups (a
 * bridge) keeps its links to both. Members in no group are cut from everyone.
 */
export function partitionRules(
  members: readonly string[],
  groups: readonly (readonly string[])[],
): Map<string, FaultRule[]> {
  const together = (a: string, b: string) => groups.some((g) => g.includes(a) && g.includes(b));
  const rules = new Map<string, FaultRule[]>();
  for (const m of members) {
    rules.set(
      m,
      members
        .filter((p) => p !== m && !together(m, p))
        .map((peer): FaultRule => ({ type: "partition", peer })),
    );
  }
  return rules;
}

/** A seeded shuffle (Fisher–Yates) of the members, so one seed picks the same sides. */
function shuffled(ctx: NemesisContext): string[] {
  const out = [...ctx.members];
  for (let i = out.length - 1; i > 0; i--) {
    const j = ctx.random.intn(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function applyRules(ctx: NemesisContext, rules: Map<string, FaultRule[]>): Promise<void> {
  await Promise.all([...rules].map(([member, r]) => ctx.setFaultRules(member, r)));
}

/** Clears every live member's rules (a dead member's rules died with its process). */
async function clearRules(ctx: NemesisContext): Promise<void> {
  await Promise.all(ctx.liveMembers().map((m) => healIfUp(ctx.setFaultRules(m, []))));
}

function networkNemesis(
  name: string,
  plan: (ctx: NemesisContext) => Promise<{ rules: Map<string, FaultRule[]> } & FaultStarted>,
): Nemesis {
  return {
    name,
    async start(ctx) {
      const { rules, targets, description } = await plan(ctx);
      await applyRules(ctx, rules);
      return { targets, description };
    },
    heal: clearRules,
  };
}

const others = (ctx: NemesisContext, m: string) => ctx.members.filter((p) => p !== m);

/** The holder of `target` (the Raft leader by default) cut off from every other member. */
export function isolateNemesis(target: TargetRole): Nemesis {
  return networkNemesis("isolate", async (ctx) => {
    const victim = await ctx.holder(target);
    const rest = others(ctx, victim);
    return {
      rules: partitionRules(ctx.members, [[victim], rest]),
      targets: [victim],
      description: `isolated ${victim} (${target}) from ${rest.join(", ")}`,
    };
  });
}

/** A random minority (⌊(n−1)/2⌋ members) cut off from the majority. */
export function majorityMinorityNemesis(): Nemesis {
  return networkNemesis("partition-majority-minority", async (ctx) => {
    const order = shuffled(ctx);
    const minority = order.slice(0, Math.floor((order.length - 1) / 2));
    const majority = order.slice(minority.length);
    return {
      rules: partitionRules(ctx.members, [minority, majority]),
      targets: minority,
      description: `partition minority [${minority.join(", ")}] | majority [${majority.join(", ")}]`,
    };
  });
}

/** Jepsen's bridge: two halves that cannot talk, and one member that talks to both. */
export function bridgeNemesis(): Nemesis {
  return networkNemesis("bridge", async (ctx) => {
    const order = shuffled(ctx);
    const mid = Math.floor(order.length / 2);
    const bridge = order[mid]!;
    const left = order.slice(0, mid + 1);
    const right = order.slice(mid);
    return {
      rules: partitionRules(ctx.members, [left, right]),
      targets: [bridge],
      description: `bridge ${bridge} between [${order.slice(0, mid).join(", ")}] and [${order.slice(mid + 1).join(", ")}]`,
    };
  });
}

/**
 * One-way: the holder's outgoing frames are dropped while it still hears everyone — a leader
 * whose heartbeats never arrive, so the others elect a new one it then learns about.
 */
export function oneWayNemesis(target: TargetRole): Nemesis {
  return networkNemesis("one-way", async (ctx) => {
    const victim = await ctx.holder(target);
    const rules = new Map<string, FaultRule[]>(ctx.members.map((m) => [m, []]));
    rules.set(
      victim,
      others(ctx, victim).map((peer): FaultRule => ({ type: "partition", peer, direction: "out" })),
    );
    return {
      rules,
      targets: [victim],
      description: `${victim} (${target}) cannot send, only hear`,
    };
  });
}

/** Every link between members, both ways, with the same rule. */
function everyLink(ctx: NemesisContext, rule: FaultRule): Map<string, FaultRule[]> {
  return new Map(ctx.members.map((m) => [m, [rule]]));
}

/** How hard the message faults hit: enough to slow Raft, not to stop it. */
export const LOSS_PROBABILITY = 0.2;
export const DUPLICATE_PROBABILITY = 0.2;
export const DELAY_MS = 40;
export const DELAY_JITTER_MS = 40;

export function lossNemesis(): Nemesis {
  return networkNemesis("loss", async (ctx) => ({
    rules: everyLink(ctx, { type: "drop", probability: LOSS_PROBABILITY }),
    targets: [...ctx.members],
    description: `drop ${LOSS_PROBABILITY * 100}% of messages between members`,
  }));
}

export function delayNemesis(): Nemesis {
  return networkNemesis("delay", async (ctx) => ({
    rules: everyLink(ctx, { type: "delay", ms: DELAY_MS, jitterMs: DELAY_JITTER_MS }),
    targets: [...ctx.members],
    description: `delay messages between members ${DELAY_MS}+0..${DELAY_JITTER_MS} ms`,
  }));
}

export function duplicateNemesis(): Nemesis {
  return networkNemesis("duplicate", async (ctx) => ({
    rules: everyLink(ctx, { type: "duplicate", probability: DUPLICATE_PROBABILITY }),
    targets: [...ctx.members],
    description: `duplicate ${DUPLICATE_PROBABILITY * 100}% of messages between members`,
  }));
}
