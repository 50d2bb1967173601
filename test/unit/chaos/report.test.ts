import { describe, expect, it } from "vitest";
import {
  percentile,
  summarize,
  timeToFirstAckedWrite,
} from "../../../cmd/chaos/failover-windows.ts";
import type { ChaosOp } from "../../../cmd/chaos/history.ts";
import { HistoryRecorder } from "../../../cmd/chaos/history.ts";
import { analyzeHistory } from "../../../cmd/chaos/history-analysis.ts";
import {
  buildReport,
  type RoundReport,
  type RunSettings,
  renderText,
} from "../../../cmd/chaos/report.ts";

const settings: RunSettings = {
  servers: 3,
  fault: "kill",
  rounds: 2,
  clients: 2,
  keys: 1,
  requestTimeoutMs: 1000,
  tickMs: null,
  electionTicks: null,
  runDir: "/tmp/x",
};

const round = (n: number, toLeader: number, toWrite: number): RoundReport => ({
  round: n,
  fault: "kill",
  oldLeader: "n1",
  oldTerm: n,
  newLeader: "n2",
  newTerm: n + 1,
  timeToNewLeaderMs: toLeader,
  timeToFirstAckedWriteMs: toWrite,
  restoredAfterMs: 3000,
});

describe("failover windows", () => {
  it("the first acknowledged write counts only puts issued at or after the fault", () => {
    const ops: ChaosOp[] = [
      { op: "put", clientId: 1, key: "k", value: "a", callMs: 90, returnMs: 101 }, // committed before
      { op: "get", clientId: 2, key: "k", callMs: 100, returnMs: 103 },
      { op: "put", clientId: 2, key: "k", value: "b", callMs: 104 }, // never answered
      { op: "put", clientId: 1, key: "k", value: "c", callMs: 102, returnMs: 450 },
      { op: "put", clientId: 3, key: "k", value: "d", callMs: 110, returnMs: 400 },
    ];
    expect(timeToFirstAckedWrite(ops, 100)).toBe(300);
    expect(timeToFirstAckedWrite(ops, 500)).toBeNull();
  });

  it("nearest-rank percentiles", () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
    expect(percentile([4, 1, 3, 2], 99)).toBe(4);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 99)).toBe(99);
    expect(summarize([10, null, 30])).toEqual({ count: 2, p50: 10, p99: 30, max: 30 });
  });
});

describe("history recorder", () => {
  it("stamps calls and returns with the injected clock; failures stay pending", () => {
    let t = 0;
    const recorder = new HistoryRecorder(() => t);
    const a = recorder.invoke({ op: "put", clientId: 1, key: "k", value: "c1-1" });
    t = 5;
    const b = recorder.invoke({ op: "get", clientId: 2, key: "k" });
    t = 7;
    recorder.acked(a, { revision: 2 });
    t = 9;
    recorder.failed(b, new Error("store unavailable"));
    expect(recorder.ops).toEqual([
      { op: "put", clientId: 1, key: "k", value: "c1-1", callMs: 0, returnMs: 7, revision: 2 },
      { op: "get", clientId: 2, key: "k", callMs: 5, error: "store unavailable", failedMs: 9 },
    ]);
    expect(recorder.ackedPutsSince(7)).toBe(1);
    expect(recorder.ackedPutsSince(8)).toBe(0);
  });
});

describe("report", () => {
  const ops: ChaosOp[] = [
    { op: "put", clientId: 1, key: "k", value: "c1-1", callMs: 0, returnMs: 10, revision: 2 },
    { op: "get", clientId: 2, key: "k", callMs: 20, returnMs: 30, value: "c1-1" },
    { op: "put", clientId: 2, key: "k", value: "c2-1", callMs: 40 },
  ];

  it("passes a clean run and summarizes its windows", () => {
    const verdict = analyzeHistory(ops, [{ key: "k", value: "c1-1", revision: 2 }]);
    const report = buildReport(settings, [round(1, 100, 900), round(2, 300, 1100)], ops, verdict);
    expect(report.ok).toBe(true);
    expect(report.totals).toMatchObject({
      ops: 3,
      puts: 2,
      gets: 1,
      ackedPuts: 1,
      ackedGets: 1,
      pending: 1,
      timeToNewLeaderMs: { p50: 100, p99: 300 },
      timeToFirstAckedWriteMs: { p50: 900, p99: 1100 },
    });
    expect(report.verdict).toMatchObject({
      linearizable: true,
      anomalies: { lost: 0, duplicated: 0 },
    });
    const text = renderText(report);
    expect(text).toContain("linearizable: yes");
    expect(text).toContain("acknowledged writes lost: 0; duplicated: 0");
    expect(text.trimEnd().endsWith("PASS")).toBe(true);
  });

  it("fails on a lost write, on a missing round and on an error", () => {
    const lost = analyzeHistory(ops, []);
    const report = buildReport(settings, [round(1, 100, 900), round(2, 300, 1100)], ops, lost);
    expect(report.ok).toBe(false);
    expect(report.verdict.anomalies.lost).toBe(1);
    expect(report.verdict.examples.lost).toEqual([{ key: "k", value: "c1-1", revisions: [2] }]);
    expect(renderText(report)).toContain("lost: k = c1-1 (revisions 2)");
    const clean = analyzeHistory(ops, [{ key: "k", value: "c1-1", revision: 2 }]);
    expect(buildReport(settings, [round(1, 100, 900)], ops, clean).ok).toBe(false);
    expect(buildReport(settings, [], ops, null, "no leader").ok).toBe(false);
  });
});
