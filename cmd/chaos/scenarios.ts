/**
 * The scenario catalog of `bosun chaos run --scenario NAME`: which nemeses a fault window
 * starts and on whom. A scenario with several choices picks one per window from the run's
 * seeded stream, so `--seed` replays the same schedule. Nemeses live in nemesis/ and are named
 * here through their registry: configuration outside the code that implements them.
 */
import type { TargetRole } from "./nemesis/nemesis.ts";

/** One fault window's faults: these nemeses at once (composed), aimed at `target`'s holder. */
export interface FaultChoice {
  nemeses: string[];
  target: TargetRole;
}

export interface Scenario {
  name: string;
  description: string;
  choices: FaultChoice[];
}

const one = (nemesis: string, target: TargetRole = "raft-leader"): FaultChoice => ({
  nemeses: [nemesis],
  target,
});

const SINGLE: Scenario[] = [
  { name: "kill-leader", description: "kill -9 the Raft leader", choices: [one("kill")] },
  { name: "pause-leader", description: "SIGSTOP the Raft leader", choices: [one("pause")] },
  { name: "kill-any", description: "kill -9 a random member", choices: [one("kill", "any")] },
  {
    name: "kill-scheduler",
    description: "kill -9 the kube-scheduler Lease holder",
    choices: [one("kill", "scheduler")],
  },
  {
    name: "kill-controller-manager",
    description: "kill -9 the kube-controller-manager Lease holder",
    choices: [one("kill", "controller-manager")],
  },
  {
    name: "pause-scheduler",
    description: "SIGSTOP the kube-scheduler Lease holder",
    choices: [one("pause", "scheduler")],
  },
  {
    name: "partition-leader",
    description: "cut the Raft leader off from every other member",
    choices: [one("isolate")],
  },
  {
    name: "partition-leader-iptables",
    description:
      "cut the Raft leader off from every other member with iptables (fault rules without it)",
    choices: [one("isolate-iptables")],
  },
  {
    name: "partition-majority-minority",
    description: "cut a random minority off from the majority",
    choices: [one("partition-majority-minority", "any")],
  },
  {
    name: "partition-one-way",
    description: "the Raft leader cannot send but still hears",
    choices: [one("one-way")],
  },
  {
    name: "partition-bridge",
    description: "two halves that share one bridge member",
    choices: [one("bridge", "any")],
  },
  { name: "message-loss", description: "drop 20% of messages", choices: [one("loss", "any")] },
  { name: "message-delay", description: "delay messages 40–80 ms", choices: [one("delay", "any")] },
  {
    name: "message-duplicate",
    description: "duplicate 20% of messages",
    choices: [one("duplicate", "any")],
  },
  {
    name: "slow-disk-leader",
    description: "the Raft leader's fsyncs stall 200 ms each",
    choices: [one("slow-disk")],
  },
  {
    name: "slow-disk-follower",
    description: "a Raft follower's fsyncs stall 200 ms each",
    choices: [one("slow-disk", "raft-follower")],
  },
  {
    name: "clock-skew",
    description:
      "a Lease holder's clock runs 10% slow and jumps an hour while it is cut off from the others",
    choices: [
      { nemeses: ["clock-skew", "isolate"], target: "controller-manager" },
      { nemeses: ["clock-skew", "isolate"], target: "scheduler" },
    ],
  },
  {
    name: "loss-and-kill",
    description: "20% message loss while the Raft leader is killed",
    choices: [{ nemeses: ["loss", "kill"], target: "raft-leader" }],
  },
];

export const SCENARIOS: readonly Scenario[] = [
  ...SINGLE,
  {
    name: "mixed",
    description: "each window one fault of every other scenario, chosen by the seed",
    choices: SINGLE.flatMap((s) => s.choices),
  },
];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (s === undefined) {
    throw new Error(`no scenario '${name}' (known: ${SCENARIOS.map((x) => x.name).join(", ")})`);
  }
  return s;
}
