import { describe, expect, it } from "vitest";
import { SeededRandom } from "../../../actors/system/random.ts";
import type { ChaosOp } from "../../../cmd/chaos/history.ts";
import { exportHistory, importHistory } from "../../../cmd/chaos/history-export.ts";
import { dropPairs } from "../../../cmd/chaos/nemesis/iptables-partition.ts";
import {
  composeNemeses,
  type Nemesis,
  type NemesisContext,
} from "../../../cmd/chaos/nemesis/nemesis.ts";
import { partitionRules } from "../../../cmd/chaos/nemesis/network-faults.ts";
import { NEMESES } from "../../../cmd/chaos/nemesis/registry.ts";
import { perSecond } from "../../../cmd/chaos/scenario-report.ts";
import { SCENARIOS } from "../../../cmd/chaos/scenarios.ts";
import type { FaultRule } from "../../../transport/faults.ts";

/** A fake cluster that records what the nemeses asked of it. */
function fakeContext(
  members = ["n1", "n2", "n3"],
): NemesisContext & { calls: string[]; rules: Map<string, FaultRule[]> } {
  const calls: string[] = [];
  const rules = new Map<string, FaultRule[]>();
  return {
    members,
    random: new SeededRandom(42),
    calls,
    rules,
    holder: async (role) => (role === "raft-leader" ? "n2" : "n3"),
    signal: (m, s) => void calls.push(`${s} ${m}`),
    restart: async (m) => void calls.push(`restart ${m}`),
    setFaultRules: async (m, r) => {
      rules.set(m, r);
      calls.push(`rules ${m} ${r.length}`);
    },
    setSyncDelay: async (m, ms) => void calls.push(`disk ${m} ${ms}`),
    setClockSkew: async (m, skew) =>
      void calls.push(`clock ${m} ${skew.rate} ${skew.wallOffsetMs}`),
    liveMembers: () => members,
    addressOf: (m) => `127.9.9.${m.slice(1)}`,
    firewall: null,
  };
}

const peersCut = (rules: Map<string, FaultRule[]>, m: string) =>
  (rules.get(m) ?? []).map((r) => r.peer).sort();

describe("partition rules", () => {
  it("cut every link between the sides, both ways, and none within a side", () => {
    const rules = partitionRules(
      ["n1", "n2", "n3", "n4", "n5"],
      [
        ["n1", "n2"],
        ["n3", "n4", "n5"],
      ],
    );
    expect(peersCut(rules, "n1")).toEqual(["n3", "n4", "n5"]);
    expect(peersCut(rules, "n4")).toEqual(["n1", "n2"]);
  });

  it("a bridge member keeps its links to both halves (Jepsen's bridge)", () => {
    const rules = partitionRules(
      ["n1", "n2", "n3"],
      [
        ["n1", "n2"],
        ["n2", "n3"],
      ],
    );
    expect(peersCut(rules, "n2")).toEqual([]);
    expect(peersCut(rules, "n1")).toEqual(["n3"]);
    expect(peersCut(rules, "n3")).toEqual(["n1"]);
  });
});

describe("nemeses", () => {
  it("isolate-iptables drops the victim's packets both ways, and falls back to fault rules without iptables", async () => {
    expect(
      dropPairs(["n1", "n2", "n3"], [["n2"], ["n1", "n3"]], (m) => `127.9.9.${m.slice(1)}`),
    ).toEqual([
      ["127.9.9.1", "127.9.9.2"],
      ["127.9.9.2", "127.9.9.1"],
      ["127.9.9.2", "127.9.9.3"],
      ["127.9.9.3", "127.9.9.2"],
    ]);
    const drops: string[][] = [];
    const firewall = {
      name: "BOSUN-CHAOS-1",
      setDrops: (pairs: readonly (readonly [string, string])[]) =>
        void drops.push(pairs.map(([a, b]) => `${a}>${b}`)),
      clear: () => void drops.push([]),
    };
    const ctx = { ...fakeContext(), firewall };
    const nemesis = NEMESES["isolate-iptables"]!("raft-leader");
    expect((await nemesis.start(ctx)).targets).toEqual(["n2"]);
    expect(drops[0]).toHaveLength(4);
    expect(ctx.rules.size).toBe(0); // no fault rules
    await nemesis.heal(ctx);
    expect(drops.at(-1)).toEqual([]);

    const without = fakeContext();
    const fallback = NEMESES["isolate-iptables"]!("raft-leader");
    expect((await fallback.start(without)).description).toContain("fault rules: no iptables");
    expect(peersCut(without.rules, "n2")).toEqual(["n1", "n3"]);
    await fallback.heal(without);
    for (const m of without.members) expect(without.rules.get(m)).toEqual([]);
  });

  it("clock-skew slows the holder's clock with isolate (the clock-skew scenario) and heals both", async () => {
    const ctx = fakeContext();
    const choice = SCENARIOS.find((x) => x.name === "clock-skew")?.choices[0];
    expect(choice?.nemeses).toEqual(["clock-skew", "isolate"]);
    const nemesis = composeNemeses(
      "clock-skew+isolate",
      (choice?.nemeses ?? []).map((n) => NEMESES[n]!("controller-manager")),
    );
    const started = await nemesis.start(ctx);
    expect(started.targets).toEqual(["n3"]);
    expect(ctx.calls[0]).toBe("clock n3 0.9 3600000");
    expect(peersCut(ctx.rules, "n3")).toEqual(["n1", "n2"]);
    await nemesis.heal(ctx);
    expect(ctx.calls.at(-1)).toBe("clock n3 1 0");
    for (const m of ctx.members) expect(ctx.rules.get(m)).toEqual([]);
  });

  it("isolate cuts the Raft leader off and heal clears every member's rules", async () => {
    const ctx = fakeContext();
    const isolate = NEMESES.isolate!("raft-leader");
    const started = await isolate.start(ctx);
    expect(started.targets).toEqual(["n2"]);
    expect(peersCut(ctx.rules, "n2")).toEqual(["n1", "n3"]);
    expect(peersCut(ctx.rules, "n1")).toEqual(["n2"]);
    await isolate.heal(ctx);
    for (const m of ctx.members) expect(ctx.rules.get(m)).toEqual([]);
  });

  it("kill signals the holder and heal restarts it; pause heals with SIGCONT", async () => {
    const ctx = fakeContext();
    const kill = NEMESES.kill!("scheduler");
    await kill.start(ctx);
    await kill.heal(ctx);
    const pause = NEMESES.pause!("raft-leader");
    await pause.start(ctx);
    await pause.heal(ctx);
    expect(ctx.calls).toEqual(["SIGKILL n3", "restart n3", "SIGSTOP n2", "SIGCONT n2"]);
  });

  it("one seed picks the same minority; a composition heals in reverse order", async () => {
    const a = await NEMESES["partition-majority-minority"]!("any").start(fakeContext());
    const b = await NEMESES["partition-majority-minority"]!("any").start(fakeContext());
    expect(a).toEqual(b);
    expect(a.targets).toHaveLength(1);
    const order: string[] = [];
    const part = (name: string): Nemesis => ({
      name,
      start: async () => ({ targets: [name], description: name }),
      heal: async () => void order.push(name),
    });
    const both = composeNemeses("a+b", [part("a"), part("b")]);
    expect((await both.start(fakeContext())).description).toBe("a + b");
    await both.heal(fakeContext());
    expect(order).toEqual(["b", "a"]);
  });

  it("slow-disk stalls the holder's fsyncs and heals them to 0", async () => {
    const ctx = fakeContext();
    const slow = NEMESES["slow-disk"]!("raft-leader");
    await slow.start(ctx);
    await slow.heal(ctx);
    expect(ctx.calls).toEqual(["disk n2 200", "disk n2 0"]);
  });

  it("every scenario names nemeses of the registry", () => {
    for (const s of SCENARIOS) {
      for (const c of s.choices)
        for (const n of c.nemeses) expect(NEMESES[n], `${s.name}: ${n}`).toBeDefined();
    }
    expect(SCENARIOS.map((s) => s.name)).toContain("partition-leader");
  });
});

describe("run report series", () => {
  it("counts acknowledged operations and unknown outcomes per second", () => {
    const ops: ChaosOp[] = [
      { op: "put", clientId: 1, key: "k", value: "a", callMs: 100, returnMs: 110 },
      { op: "get", clientId: 2, key: "k", callMs: 200, returnMs: 1300, value: "a" },
      {
        op: "put",
        clientId: 1,
        key: "k",
        value: "b",
        callMs: 1500,
        error: "timeout",
        failedMs: 2500,
      },
    ];
    expect(perSecond(ops, 100)).toEqual([
      { second: 0, ackedOps: 1, p50LatencyMs: 10, p99LatencyMs: 10, failed: 0 },
      { second: 1, ackedOps: 1, p50LatencyMs: 1100, p99LatencyMs: 1100, failed: 1 },
    ]);
  });

  it("the final reads, which overlap, export as one process each", () => {
    const finalReads: ChaosOp[] = ["a", "b"].map((key) => ({
      op: "get",
      clientId: 0,
      key,
      callMs: 5,
      returnMs: 6,
    }));
    const file = exportHistory([
      { op: "put", clientId: 3, key: "a", value: "v", callMs: 0, returnMs: 1 },
      ...finalReads,
    ]);
    expect([...new Set(file.events.map((e) => e.process))]).toEqual([3, 4, 5]);
    expect(importHistory(file).ops).toHaveLength(3);
  });
});
