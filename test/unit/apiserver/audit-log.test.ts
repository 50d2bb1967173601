/** The audit log file: one JSON line per event, rotated by size, old backups pruned (lumberjack's rules). */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RotatingAuditLog } from "../../../actors/apiserver/audit-log.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

describe("rotating audit log", () => {
  let dir: string;
  const clock = new ManualClock(0, Date.UTC(2026, 0, 2, 3, 4, 5));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "bosun-audit-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // every line the same length, so that the rotation points are easy to count
  const line = (n: number) =>
    JSON.stringify({ n: String(n).padStart(3, "0"), pad: "x".repeat(80) });

  it("appends one line per event, batched per turn of the event loop", async () => {
    const path = join(dir, "audit.log");
    writeFileSync(path, `${line(0)}\n`);
    const log = new RotatingAuditLog(path, { maxFileBytes: 1 << 20, maxBackups: 0 }, () =>
      clock.wallMs(),
    );
    log.write(line(1));
    log.write(line(2));
    // nothing is written until the turn ends
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
    await Promise.resolve();
    const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
    expect(lines.map((l) => Number(JSON.parse(l).n))).toEqual([0, 1, 2]);
    log.close();
  });

  it("rotates before a write would pass maxFileBytes, naming backups by time, keeping maxBackups", () => {
    const path = join(dir, "audit.log");
    const bytesPerLine = line(0).length + 1;
    const log = new RotatingAuditLog(path, { maxFileBytes: bytesPerLine * 3, maxBackups: 2 }, () =>
      clock.wallMs(),
    );
    for (let n = 0; n < 12; n++) {
      log.write(line(n));
      log.flush();
      clock.advance(1_000);
    }
    log.close();
    const files = readdirSync(dir).sort();
    // 12 lines, 3 a file: 4 files written, the oldest backup pruned
    expect(files).toEqual([
      "audit-2026-01-02T03-04-11.000.log",
      "audit-2026-01-02T03-04-14.000.log",
      "audit.log",
    ]);
    const numbers = (f: string) =>
      readFileSync(join(dir, f), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => Number(JSON.parse(l).n));
    expect(numbers(files[0] as string)).toEqual([3, 4, 5]);
    expect(numbers(files[1] as string)).toEqual([6, 7, 8]);
    expect(numbers("audit.log")).toEqual([9, 10, 11]);
    for (const f of files)
      expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(bytesPerLine * 3);
  });

  it("maxBackups 0 keeps every rotated file", () => {
    const path = join(dir, "audit.log");
    const log = new RotatingAuditLog(path, { maxFileBytes: 10, maxBackups: 0 }, () =>
      clock.wallMs(),
    );
    for (let n = 0; n < 5; n++) {
      log.write(line(n));
      log.flush();
      clock.advance(1);
    }
    log.close();
    expect(readdirSync(dir)).toHaveLength(5);
    expect(log.backups()).toHaveLength(4);
  });
});
