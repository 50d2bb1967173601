/**
 * Partitions at the OS level: packets between members' loopback addresses dropped by iptables,
 * not frames refused by the transport's fault rules — so the sockets themselves go silent, TCP
 * retransmits, pings go unanswered and links die as on a real network. Members dial from their
 * own address (transport/mesh.ts), so a rule names the two members of a cut link; the chaos
 * process's client member (127.0.0.1) is never in a rule, as with the fault rules.
 *
 * The rules live in one chain of the run's own, `BOSUN-CHAOS-<pid>`, jumped to from OUTPUT
 * (loopback packets leave through OUTPUT), so nothing else on the host is touched, and healing
 * flushes it; the run removes the chain when it ends, however it ends. Without iptables (not
 * root, no binary) the nemesis falls back to the transport's fault rules.
 *
 * `dropPairs` is pure; `IptablesChain` runs iptables.
 */
import { execFileSync } from "node:child_process";
import type { Nemesis, TargetRole } from "./nemesis.ts";
import { isolateNemesis, partitionRules } from "./network-faults.ts";

/** A host firewall the nemesis cuts links with. */
export interface OsFirewall {
  readonly name: string;
  /** Drops every packet from each pair's first address to its second (and only those). */
  setDrops(pairs: readonly (readonly [string, string])[]): void;
  /** Drops nothing (healed). */
  clear(): void;
}

/** The (from, to) address pairs whose packets a partition into `groups` drops. */
export function dropPairs(
  members: readonly string[],
  groups: readonly (readonly string[])[],
  addressOf: (member: string) => string,
): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [member, rules] of partitionRules(members, groups))
    for (const rule of rules)
      if (rule.peer !== undefined) pairs.push([addressOf(member), addressOf(rule.peer)]);
  return pairs;
}

/** How long one iptables call may take (it waits for the xtables lock: `-w`). */
const IPTABLES_TIMEOUT_MS = 10_000;

export class IptablesChain implements OsFirewall {
  private constructor(readonly name: string) {}

  /** The chain `name`, created and jumped to from OUTPUT; null when iptables cannot run. */
  static create(name: string): IptablesChain | null {
    const chain = new IptablesChain(name);
    try {
      chain.run("-N", name);
      chain.run("-I", "OUTPUT", "-j", name);
      return chain;
    } catch {
      chain.remove();
      return null;
    }
  }

  setDrops(pairs: readonly (readonly [string, string])[]): void {
    this.clear();
    for (const [from, to] of pairs) this.run("-A", this.name, "-s", from, "-d", to, "-j", "DROP");
  }

  clear(): void {
    this.run("-F", this.name);
  }

  /** Removes the jump and the chain; each step may fail (already gone) without stopping the rest. */
  remove(): void {
    for (const args of [
      ["-D", "OUTPUT", "-j", this.name],
      ["-F", this.name],
      ["-X", this.name],
    ]) {
      try {
        this.run(...args);
      } catch {
        // not there (a failed create, a second remove)
      }
    }
  }

  private run(...args: string[]): void {
    execFileSync("iptables", ["-w", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: IPTABLES_TIMEOUT_MS,
    });
  }
}

/** The holder of `target` cut off from every other member by iptables (else by fault rules). */
export function iptablesIsolateNemesis(target: TargetRole): Nemesis {
  let fallback: Nemesis | null = null;
  return {
    name: "isolate-iptables",
    async start(ctx) {
      const firewall = ctx.firewall;
      if (firewall === null) {
        fallback = isolateNemesis(target);
        const started = await fallback.start(ctx);
        return { ...started, description: `${started.description} (fault rules: no iptables)` };
      }
      const victim = await ctx.holder(target);
      const rest = ctx.members.filter((m) => m !== victim);
      firewall.setDrops(dropPairs(ctx.members, [[victim], rest], ctx.addressOf));
      return {
        targets: [victim],
        description: `iptables cut ${victim} (${target}) off from ${rest.join(", ")}`,
      };
    },
    async heal(ctx) {
      if (fallback !== null) return fallback.heal(ctx);
      ctx.firewall?.clear();
    },
  };
}
