/**
 * A nemesis (Jepsen's word): one kind of fault, started and healed on demand by a chaos
 * scenario. The contract is kube-scheduler's plugin shape — a small interface here, the
 * implementations beside it, a registry by name (`registry.ts`), and which ones run, on whom and
 * for how long in the scenario catalog, not in the nemeses.
 *
 * A nemesis touches the cluster only through `NemesisContext`: signals and restarts of the
 * processes the run started, the transport's fault rules (`POST /admin/faults`, nodes run with
 * --faults), and who holds a role now. Randomness is the run's seeded stream, so one seed
 * replays the same schedule of targets.
 */
import type { SeededRandom } from "../../../actors/system/random.ts";
import type { ClockSkew } from "../../../actors/system/skewed-clock.ts";
import type { FaultRule } from "../../../transport/faults.ts";
import type { OsFirewall } from "./iptables-partition.ts";

/** Whom a process fault hits: a role's holder at the moment the fault starts. */
export const TARGET_ROLES = [
  "raft-leader",
  "raft-follower",
  "controller-manager",
  "scheduler",
  "any",
] as const;
export type TargetRole = (typeof TARGET_ROLES)[number];

export function isTargetRole(s: string): s is TargetRole {
  return (TARGET_ROLES as readonly string[]).includes(s);
}

export interface NemesisContext {
  /** Every server member, in id order. */
  readonly members: readonly string[];
  readonly random: SeededRandom;
  /** The member holding `role` now (a Lease holder is read from its Lease object). */
  holder(role: TargetRole): Promise<string>;
  signal(member: string, signal: "SIGKILL" | "SIGSTOP" | "SIGCONT"): void;
  /** Starts a killed member again on its data dir. */
  restart(member: string): Promise<void>;
  /** Replaces a member's transport fault rules ([] clears them). */
  setFaultRules(member: string, rules: FaultRule[]): Promise<void>;
  /** Sets a member's slow-disk failpoint (ms each fsync'd Raft batch waits; 0 heals). */
  setSyncDelay(member: string, ms: number): Promise<void>;
  /** Sets a member's clock skew (rate 1, offset 0 heals). */
  setClockSkew(member: string, skew: ClockSkew): Promise<void>;
  /** Members whose process runs and is not paused. */
  liveMembers(): string[];
  /** A member's own (loopback) address, which it listens and dials from. */
  addressOf(member: string): string;
  /** The host's packet filter, for OS-level partitions; null when iptables cannot run. */
  readonly firewall: OsFirewall | null;
}

/**
 * A member's admin endpoint did not answer at all. Healing treats it as healed: a member that
 * is not up (a killed one starting again) holds no fault rules or disk faults, which live only
 * in its memory.
 */
export class MemberUnreachable extends Error {
  override name = "MemberUnreachable";
}

/** Runs a heal step, ignoring a member that is not up (see MemberUnreachable). */
export async function healIfUp(step: Promise<void>): Promise<void> {
  await step.catch((e: unknown) => {
    if (!(e instanceof MemberUnreachable)) throw e;
  });
}

/** What a started fault did, for the report. */
export interface FaultStarted {
  /** The members the fault is aimed at (for a partition: the smaller side). */
  targets: string[];
  /** One line a person reads, e.g. "isolated n2 (raft leader) from n1, n3". */
  description: string;
}

export interface Nemesis {
  readonly name: string;
  start(ctx: NemesisContext): Promise<FaultStarted>;
  /** Undoes what `start` did; safe to call once after a `start` that threw. */
  heal(ctx: NemesisContext): Promise<void>;
}

/** Builds a nemesis for one fault window (a nemesis keeps state between start and heal). */
export type NemesisFactory = (target: TargetRole) => Nemesis;

/** Several nemeses at once: started in order, healed in reverse order. */
export function composeNemeses(name: string, parts: Nemesis[]): Nemesis {
  const started: Nemesis[] = [];
  return {
    name,
    async start(ctx) {
      const all: FaultStarted[] = [];
      for (const part of parts) {
        started.push(part);
        all.push(await part.start(ctx));
      }
      return {
        targets: [...new Set(all.flatMap((s) => s.targets))],
        description: all.map((s) => s.description).join(" + "),
      };
    },
    async heal(ctx) {
      // Every part heals even when one fails: a fault left on breaks the rest of the run.
      let first: unknown = null;
      for (const part of started.reverse()) {
        await part.heal(ctx).catch((e: unknown) => {
          first ??= e;
        });
      }
      started.length = 0;
      if (first !== null) throw first;
    },
  };
}
