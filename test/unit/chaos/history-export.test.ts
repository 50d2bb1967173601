import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChaosOp } from "../../../cmd/chaos/history.ts";
import {
  checkHistoryFile,
  exportHistory,
  HistoryFormatError,
  importHistory,
} from "../../../cmd/chaos/history-export.ts";
import { BOSUN_TS } from "../../../cmd/launcher.ts";

/**
 * The exported history (README "Chaos history format") read back by the same checks a run
 * makes: a clean history passes, one with a planted stale read fails, through the file and
 * through `bosun chaos check`.
 */
const put = (
  clientId: number,
  value: string,
  callMs: number,
  returnMs: number,
  revision: number,
): ChaosOp => ({
  op: "put",
  clientId,
  key: "chaos/k000",
  value,
  callMs,
  returnMs,
  revision,
});
const get = (
  clientId: number,
  value: string | undefined,
  callMs: number,
  returnMs: number,
): ChaosOp => ({
  op: "get",
  clientId,
  key: "chaos/k000",
  callMs,
  returnMs,
  ...(value === undefined ? {} : { value }),
});

/** c1 writes a then b; c2 reads a between them, then a again after b was acknowledged. */
const staleRead: ChaosOp[] = [
  put(1, "c1-1", 0, 10, 2),
  get(2, "c1-1", 20, 30),
  put(1, "c1-2", 40, 50, 3),
  get(2, "c1-1", 60, 70), // stale: c1-2 was acknowledged at 50, before this read began
];
const writes = [
  { key: "chaos/k000", value: "c1-1", revision: 2 },
  { key: "chaos/k000", value: "c1-2", revision: 3 },
];

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe("chaos history export", () => {
  it("writes Jepsen's invoke/ok pairs in time order, ns times, revisions on write oks", () => {
    const file = exportHistory(staleRead.slice(0, 2), writes.slice(0, 1));
    expect(file.format).toBe("bosun-chaos-history");
    expect(file.events).toEqual([
      {
        index: 0,
        process: 1,
        type: "invoke",
        f: "write",
        key: "chaos/k000",
        value: "c1-1",
        time: 0,
      },
      {
        index: 1,
        process: 1,
        type: "ok",
        f: "write",
        key: "chaos/k000",
        value: "c1-1",
        time: 10_000_000,
        revision: 2,
      },
      {
        index: 2,
        process: 2,
        type: "invoke",
        f: "read",
        key: "chaos/k000",
        value: null,
        time: 20_000_000,
      },
      {
        index: 3,
        process: 2,
        type: "ok",
        f: "read",
        key: "chaos/k000",
        value: "c1-1",
        time: 30_000_000,
      },
    ]);
  });

  it("an operation with an unknown outcome is an info completion and stays pending when read back", () => {
    const failed: ChaosOp = {
      op: "put",
      clientId: 1,
      key: "k",
      value: "v",
      callMs: 5,
      error: "timeout",
      failedMs: 8,
    };
    const file = exportHistory([
      failed,
      { op: "get", clientId: 1, key: "k", callMs: 9, returnMs: 12, value: "v" },
    ]);
    expect(file.events.map((e) => [e.process, e.type])).toEqual([
      [1, "invoke"],
      [1, "info"],
      [1, "invoke"],
      [1, "ok"],
    ]);
    const { ops } = importHistory(JSON.parse(JSON.stringify(file)));
    expect(ops[0]).toMatchObject({ op: "put", error: "timeout" });
    expect(ops[0]?.returnMs).toBeUndefined();
    // the read of v is explained by the pending write having taken effect
    expect(checkHistoryFile(file).verdict.linearizability.linearizable).toBe(true);
  });

  it("a clean history passes after a round trip through JSON", () => {
    const clean = [...staleRead.slice(0, 3), get(2, "c1-2", 60, 70)];
    const { verdict, comparedWithStore } = checkHistoryFile(
      JSON.parse(JSON.stringify(exportHistory(clean, writes))),
    );
    expect(comparedWithStore).toBe(true);
    expect(verdict.linearizability.linearizable).toBe(true);
    expect(verdict.lost).toEqual([]);
  });

  it("a planted stale read fails the check, in the file and through `bosun chaos check`", () => {
    dir = mkdtempSync(join(tmpdir(), "bosun-history-"));
    const path = join(dir, "history.json");
    writeFileSync(path, JSON.stringify(exportHistory(staleRead, writes)));
    const { verdict } = checkHistoryFile(
      JSON.parse(JSON.stringify(exportHistory(staleRead, writes))),
    );
    expect(verdict.linearizability).toMatchObject({ linearizable: false, key: "chaos/k000" });
    const cli = spawnSync(process.execPath, ["--import", "tsx", BOSUN_TS, "chaos", "check", path], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(cli.status, cli.stdout + cli.stderr).toBe(1);
    expect(cli.stdout).toContain("linearizable: NO (key chaos/k000)");
    expect(cli.stdout).toContain("FAIL");
  });

  it("a lost acknowledged write shows when the file's store writes lack it", () => {
    const { verdict } = checkHistoryFile(exportHistory(staleRead.slice(0, 3), writes.slice(0, 1)));
    expect(verdict.lost.map((w) => w.value)).toEqual(["c1-2"]);
  });

  it("refuses a file of another format, or a completion without an invoke", () => {
    expect(() => importHistory({ format: "x", version: 1, events: [] })).toThrow(
      HistoryFormatError,
    );
    const file = exportHistory(staleRead.slice(0, 1));
    expect(() => importHistory({ ...file, events: file.events.slice(1) })).toThrow(
      /without invoke/,
    );
  });
});
