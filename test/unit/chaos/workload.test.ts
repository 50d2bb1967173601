import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { HistoryRecorder } from "../../../cmd/chaos/history.ts";
import { analyzeHistory, type StoreWrite } from "../../../cmd/chaos/history-analysis.ts";
import { Workload, type WorkloadClient } from "../../../cmd/chaos/workload.ts";

/**
 * The workload against an in-memory register store: every operation is recorded with unique
 * put values; a failed operation stays pending and the worker moves to a fresh session.
 */
function memoryStore(failEvery: number) {
  const values = new Map<string, string>();
  const applied: StoreWrite[] = [];
  let revision = 1;
  let calls = 0;
  let sessions = 0;
  const newClient = (): WorkloadClient => {
    sessions++;
    return {
      async put(key, value) {
        await nextTurn();
        values.set(key, value);
        applied.push({ key, value, revision: ++revision });
        // applied, but the answer is lost: the client cannot know
        if (++calls % failEvery === 0) throw new Error("timed out");
        return revision;
      },
      async get(key) {
        await nextTurn();
        return values.get(key);
      },
      close() {},
    };
  };
  return { newClient, applied, sessions: () => sessions };
}

describe("chaos workload", () => {
  it("records every operation with unique values; a failed put is pending, in a new session", async () => {
    let t = 0;
    const recorder = new HistoryRecorder(() => ++t);
    const store = memoryStore(7);
    const workload = new Workload({
      clients: 3,
      keys: 2,
      recorder,
      newClient: store.newClient,
      seed: 5,
    });
    workload.start();
    while (recorder.ops.length < 300) await nextTurn();
    await workload.stop();

    const puts = recorder.ops.filter((op) => op.op === "put");
    expect(new Set(puts.map((p) => p.value)).size).toBe(puts.length);
    expect(recorder.ops.every((op) => op.key === "chaos/k000" || op.key === "chaos/k001")).toBe(
      true,
    );
    const failed = puts.filter((p) => p.returnMs === undefined);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((p) => p.error === "timed out")).toBe(true);
    expect(store.sessions()).toBe(3 + failed.length);
    const verdict = analyzeHistory(recorder.ops, store.applied);
    expect(verdict.linearizability).toEqual({ linearizable: true });
    expect(verdict.lost).toEqual([]);
  });
});
